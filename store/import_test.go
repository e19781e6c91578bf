package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func importedGroup() ledgerless.Group {
	return ledgerless.Group{Key: g, State: ledgerless.State{MasterBrokerID: 2, MasterAddress: "127.0.0.1:2", MasterEpoch: 7,
		SyncStateSet: []int64{2, 3}, SyncStateSetEpoch: 11, NextBrokerID: 5},
		Brokers: []ledgerless.Broker{
			{ID: 2, Address: "127.0.0.1:2", RegisterCode: "127.0.0.1:2;imported"},
			{ID: 3, Address: "127.0.0.1:3", RegisterCode: "127.0.0.1:3;imported", HeartbeatTimeout: 20 * time.Second},
		}}
}

// TestImportGroup: an imported group reads back with its ids, epochs,
// SyncStateSet and master, no broker alive, and one history entry; an
// existing group is refused unless forced, and forcing replaces it whole.
func TestImportGroup(t *testing.T) {
	s := storetest.Open(t, storetest.Prefix(t))
	want := importedGroup()
	res, err := s.ImportGroup(ctxT(t), want, false, "importer", time.Now())
	if err != nil || res.Replaced {
		t.Fatalf("import: %+v %v", res, err)
	}
	snap, err := s.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Exists() || !snap.Group.State.Equal(want.State) || !res.State.Equal(want.State) {
		t.Fatalf("state %+v (result %+v), want %+v", snap.Group.State, res.State, want.State)
	}
	if snap.Group.State.NeverElected() {
		t.Error("an imported group with a master counts as never elected")
	}
	for i, b := range snap.Group.Brokers {
		w := want.Brokers[i]
		if b.ID != w.ID || b.Address != w.Address || b.RegisterCode != w.RegisterCode || b.Alive || !b.LastHeartbeat.IsZero() {
			t.Errorf("broker %+v, want %+v not alive", b, w)
		}
	}
	if len(snap.Group.Brokers) != 2 || snap.Group.Brokers[0].HeartbeatTimeout != snap.Config.DefaultHeartbeatTimeout ||
		snap.Group.Brokers[1].HeartbeatTimeout != 20*time.Second {
		t.Errorf("brokers %+v: timeouts must be the default and the imported one", snap.Group.Brokers)
	}
	hist, _, err := s.History(ctxT(t), g, 0, 10)
	if err != nil || len(hist) != 1 || hist[0].Reason != ledgerless.ReasonImported || hist[0].MasterEpoch != 7 || hist[0].NewMasterBrokerID != 2 {
		t.Errorf("history %+v %v", hist, err)
	}

	// The group now exists: refused, and nothing changes.
	other := want
	other.State.MasterEpoch = 1
	if _, err := s.ImportGroup(ctxT(t), other, false, "importer", time.Now()); !errors.Is(err, store.ErrGroupExists) {
		t.Fatalf("second import: %v, want ErrGroupExists", err)
	}
	if again, _ := s.ReadGroup(ctxT(t), g); !again.Group.State.Equal(want.State) || again.Group.Index != snap.Group.Index {
		t.Errorf("a refused import changed the group: %+v", again.Group)
	}

	// Make broker 3 alive with data, then replace the group by force
	// with one whose only broker is 1: broker 3 goes, with its liveness,
	// and the next id stays above what the replaced group handed out.
	snap, _ = s.ReadGroup(ctxT(t), g)
	lease, err := s.GrantLease(ctxT(t), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Txn(snap).PutAlive(3, lease, 10*time.Second, time.Now()).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	forced := ledgerless.Group{Key: g, State: ledgerless.State{MasterBrokerID: 1, MasterAddress: "127.0.0.1:1", MasterEpoch: 3,
		SyncStateSet: []int64{1}, SyncStateSetEpoch: 4, NextBrokerID: 2},
		Brokers: []ledgerless.Broker{{ID: 1, Address: "127.0.0.1:1", RegisterCode: "127.0.0.1:1;imported"}}}
	res, err = s.ImportGroup(ctxT(t), forced, true, "importer", time.Now())
	if err != nil || !res.Replaced {
		t.Fatalf("forced import: %+v %v", res, err)
	}
	snap, _ = s.ReadGroup(ctxT(t), g)
	wantState := forced.State
	wantState.NextBrokerID = 5
	if !snap.Group.State.Equal(wantState) || len(snap.Group.Brokers) != 1 || snap.Group.Brokers[0].ID != 1 || snap.Group.Brokers[0].Alive {
		t.Errorf("after a forced import: %+v, want state %+v and broker 1 only, not alive", snap.Group, wantState)
	}
	if _, err := s.KeepAlive(ctxT(t), lease); !errors.Is(err, store.ErrLeaseNotFound) {
		t.Errorf("the replaced broker's lease: %v, want it revoked", err)
	}
	hist, _, _ = s.History(ctxT(t), g, 0, 10)
	if len(hist) != 1 || hist[0].MasterEpoch != 3 || hist[0].Reason != ledgerless.ReasonImported {
		t.Errorf("history after a forced import: %+v, want the import's entry only", hist)
	}
}

// TestImportGroupInvalid: groups that break ledgerless's invariants are
// refused before anything is written.
func TestImportGroupInvalid(t *testing.T) {
	s := storetest.Open(t, storetest.Prefix(t))
	for name, change := range map[string]func(*ledgerless.Group){
		"master not in the set":  func(g *ledgerless.Group) { g.State.SyncStateSet = []int64{3} },
		"unregistered member":    func(g *ledgerless.Group) { g.State.SyncStateSet = []int64{2, 9} },
		"unregistered master":    func(g *ledgerless.Group) { g.State.MasterBrokerID = 9 },
		"next id not above ids":  func(g *ledgerless.Group) { g.State.NextBrokerID = 3 },
		"bad address":            func(g *ledgerless.Group) { g.Brokers[1].Address = "no port" },
		"bad group name":         func(g *ledgerless.Group) { g.Key.Group = "a/b" },
		"master address differs": func(g *ledgerless.Group) { g.State.MasterAddress = "127.0.0.1:9" },
	} {
		grp := importedGroup()
		grp.Brokers = slices.Clone(grp.Brokers)
		grp.State.SyncStateSet = slices.Clone(grp.State.SyncStateSet)
		change(&grp)
		if _, err := s.ImportGroup(ctxT(t), grp, true, "importer", time.Now()); !errors.Is(err, ledgerless.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if keys, err := s.ListGroups(ctxT(t)); err != nil || len(keys) != 0 {
		t.Errorf("groups %v %v, want none written", keys, err)
	}
}

// BenchmarkImportGroup imports one group of three brokers per op into a
// fresh name, to set beside BenchmarkPutState (one group write).
func BenchmarkImportGroup(b *testing.B) {
	s := storetest.Open(b, storetest.Prefix(b))
	grp := ledgerless.Group{State: ledgerless.State{MasterBrokerID: 1, MasterAddress: "127.0.0.1:1", MasterEpoch: 3,
		SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 5, NextBrokerID: 4}}
	for id := int64(1); id <= 3; id++ {
		addr := fmt.Sprintf("127.0.0.1:%d", id)
		grp.Brokers = append(grp.Brokers, ledgerless.Broker{ID: id, Address: addr, RegisterCode: addr + ";imported"})
	}
	for i := 0; b.Loop(); i++ {
		grp.Key = ledgerless.GroupKey{Cluster: "c", Group: fmt.Sprintf("g%d", i)}
		if _, err := s.ImportGroup(ctxT(b), grp, false, "bench", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
