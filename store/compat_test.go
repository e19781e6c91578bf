package store_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// loadV01 writes the records release v0.1 wrote (testdata/v0.1) below a
// prefix of the test's own.
func loadV01(t *testing.T) *store.Store {
	t.Helper()
	data, err := os.ReadFile("testdata/v0.1/records.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.RawRecord
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	s := storetest.Open(t, storetest.Prefix(t))
	if err := s.PutRaw(ctxT(t), recs, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// v01Reads reports whether release v0.1 reads a stored value: it accepts
// version 1 only (its decode refuses any other "v").
func v01Reads(r store.RawRecord) bool {
	return r.Value == "" || store.RecordVersion(r.Value) == 1 // replica-alive keys carry no record
}

// TestReadsRecordsOfV01: every record v0.1 wrote reads as what v0.1 meant.
func TestReadsRecordsOfV01(t *testing.T) {
	s := loadV01(t)
	g1 := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	snap, err := s.ReadGroup(ctxT(t), g1)
	if err != nil {
		t.Fatal(err)
	}
	want := ledgerless.State{MasterBrokerID: 3, MasterAddress: "10.0.0.3:10911", MasterEpoch: 2,
		SyncStateSet: []int64{3}, SyncStateSetEpoch: 3, NextBrokerID: 4}
	if !snap.Exists() || !snap.Group.State.Equal(want) {
		t.Errorf("c1/g1 state %+v (exists %v), want %+v", snap.Group.State, snap.Exists(), want)
	}
	if len(snap.Group.Brokers) != 3 {
		t.Fatalf("c1/g1 brokers %+v, want 3", snap.Group.Brokers)
	}
	for _, b := range snap.Group.Brokers {
		n := b.ID
		wantData := ledgerless.HeartbeatData{Epoch: 1, MaxOffset: n * 100, ConfirmOffset: n * 90, ElectionPriority: n}
		if b.Address != "10.0.0."+string(rune('0'+n))+":10911" || b.RegisterCode != "code-"+string(rune('0'+n)) ||
			b.HeartbeatTimeout != 10*time.Second || b.Heartbeat != wantData || b.LastHeartbeat.IsZero() || b.Alive != (n != 1) {
			t.Errorf("c1/g1 broker %d: %+v", n, b)
		}
	}
	if snap.Config.EnableElectUncleanMaster != true || !slices.Equal(snap.Config.PausedGroups, []string{"c1/g3"}) ||
		snap.Config.DefaultHeartbeatTimeout != 12*time.Second {
		t.Errorf("config %+v", snap.Config)
	}
	h, _, err := s.History(ctxT(t), g1, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].MasterEpoch != 2 || h[0].Reason != ledgerless.ReasonResigned || h[0].NewMasterBrokerID != 3 ||
		h[1].Reason != ledgerless.ReasonFirstMaster || h[1].Replica != "old-1" {
		t.Errorf("history %+v", h)
	}
	groups, err := s.ListGroups(ctxT(t))
	if err != nil || !slices.Equal(groups, []ledgerless.GroupKey{g1}) {
		t.Errorf("groups %v, %v; want only c1/g1 (c1/g2 was removed)", groups, err)
	}
	g2, err := s.ReadGroup(ctxT(t), ledgerless.GroupKey{Cluster: "c1", Group: "g2"})
	if err != nil || g2.Exists() || g2.Group.State.MasterEpoch != 2 || g2.Group.State.EpochBase != 2 || g2.Group.State.NextBrokerID != 2 {
		t.Errorf("removed c1/g2: %+v exists %v, %v", g2.Group.State, g2.Exists(), err)
	}
	replicas, err := s.ListReplicas(ctxT(t))
	if err != nil || len(replicas) != 1 || replicas[0].ID != "old-1" || replicas[0].Version != "v0.1.0" || !replicas[0].Alive {
		t.Errorf("replicas %+v, %v", replicas, err)
	}
}

// TestUpgradesRecordsOfV01: writing over v0.1's records keeps them at
// version 1, which v0.1 replicas still read, as long as no group is fenced;
// a restore fence upgrades the fenced groups' state to version 2, which
// v0.1 refuses, and an election brings it back to version 1.
func TestUpgradesRecordsOfV01(t *testing.T) {
	s := loadV01(t)
	g1 := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	snap, err := s.ReadGroup(ctxT(t), g1)
	if err != nil {
		t.Fatal(err)
	}
	next := snap.Group.State
	next.SyncStateSet, next.SyncStateSetEpoch = []int64{2, 3}, next.SyncStateSetEpoch+1
	if err := s.Txn(snap).PutState(next).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	m, _, err := s.ReadMember(ctxT(t), g1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Beat(ctxT(t), m, &ledgerless.HeartbeatData{Epoch: 2, MaxOffset: 250}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg, rev, err := s.ReadConfig(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Paused = true
	if _, err := s.WriteConfig(ctxT(t), cfg, rev); err != nil {
		t.Fatal(err)
	}
	requireV01Reads(t, s, nil)

	if _, err := s.ApplyFence(ctxT(t), store.Fence{ID: "aaaaaaaaaaaaaaaa", EpochMargin: 100}, "new", time.Now()); err != nil {
		t.Fatal(err)
	}
	requireV01Reads(t, s, []string{"state/c1/g1"})
	snap, err = s.ReadGroup(ctxT(t), g1)
	if err != nil || !snap.Group.State.Restored || snap.Group.State.MasterEpoch != 102 {
		t.Fatalf("fenced c1/g1 %+v, %v", snap.Group.State, err)
	}
	elected := snap.Group.State
	elected.MasterBrokerID, elected.MasterAddress, elected.MasterEpoch, elected.Restored = 3, "10.0.0.3:10911", 103, false
	if err := s.Txn(snap).PutState(elected).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	requireV01Reads(t, s, nil)
}

// requireV01Reads requires that v0.1 reads every stored record but those
// of the keys in refused, which it must refuse.
func requireV01Reads(t *testing.T, s *store.Store, refused []string) {
	t.Helper()
	recs, err := s.DumpRaw(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.HasPrefix(r.Key, "restores/") {
			continue // v0.1 never reads this kind
		}
		if want := !slices.Contains(refused, r.Key); v01Reads(r) != want {
			t.Errorf("%s = %s: v0.1 reads it: %v, want %v", r.Key, r.Value, !want, want)
		}
	}
}
