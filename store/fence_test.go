package store_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// fencedGroup writes group g with master 1 at masterEpoch 7, syncStateSet
// {1, 2} at epoch 4, two alive brokers with heartbeat data, and a removed
// group r at masterEpoch 3.
func fencedGroups(t *testing.T, s *store.Store) {
	t.Helper()
	snap, err := s.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	txn := s.Txn(snap).PutState(ledgerless.State{MasterBrokerID: 1, MasterAddress: "127.0.0.1:1", MasterEpoch: 7,
		SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 4, NextBrokerID: 3})
	for id := int64(1); id <= 2; id++ {
		lease, err := s.GrantLease(ctxT(t), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		txn.PutBroker(ledgerless.Broker{ID: id, Address: "127.0.0.1:1", RegisterCode: "x", HeartbeatTimeout: 10 * time.Second}, time.Now()).
			PutAlive(id, lease, 10*time.Second, time.Now())
	}
	if err := txn.Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= 2; id++ {
		m, _, err := s.ReadMember(ctxT(t), g, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Beat(ctxT(t), m, &ledgerless.HeartbeatData{Epoch: 7, MaxOffset: 100 * id}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := ledgerless.GroupKey{Cluster: "c", Group: "removed"}
	rs, _ := s.ReadGroup(ctxT(t), r)
	if err := s.Txn(rs).PutState(ledgerless.State{MasterEpoch: 3, SyncStateSetEpoch: 2, NextBrokerID: 5}).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	rs, _ = s.ReadGroup(ctxT(t), r)
	if err := s.Txn(rs).DeleteGroup().Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// TestApplyFence: the fence raises epochs by the margin, leaves no master,
// forgets liveness and heartbeat data, records the change in the history,
// and is applied once however many replicas apply it at the same time.
func TestApplyFence(t *testing.T) {
	prefix := storetest.Prefix(t)
	s := storetest.Open(t, prefix)
	fencedGroups(t, s)
	f := store.Fence{ID: "0123456789abcdef", EpochMargin: 1000}

	var wg sync.WaitGroup
	results := make([]store.FenceResult, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = storetest.Open(t, prefix).ApplyFence(ctxT(t), f, "r", time.Now())
		}()
	}
	wg.Wait()
	fenced := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("apply %d: %v", i, errs[i])
		}
		fenced += results[i].Groups
	}
	if fenced != 2 {
		t.Errorf("groups fenced by three concurrent applies: %d, want 2 (each group once): %+v", fenced, results)
	}
	again, err := s.ApplyFence(ctxT(t), f, "r", time.Now())
	if err != nil || !again.Already || again.Groups != 0 {
		t.Errorf("apply again: %+v, %v; want already applied", again, err)
	}

	snap, err := s.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	st := snap.Group.State
	want := ledgerless.State{MasterEpoch: 1007, SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 1004, NextBrokerID: 1003, Restored: true}
	if !st.Equal(want) {
		t.Errorf("fenced state %+v, want %+v", st, want)
	}
	for _, b := range snap.Group.Brokers {
		if b.Alive || !b.LastHeartbeat.IsZero() || b.Heartbeat != (ledgerless.HeartbeatData{}) {
			t.Errorf("broker %d after the fence: alive %v, heartbeat %+v at %v; want neither", b.ID, b.Alive, b.Heartbeat, b.LastHeartbeat)
		}
	}
	if len(snap.Group.Brokers) != 2 {
		t.Errorf("registrations after the fence: %d, want 2", len(snap.Group.Brokers))
	}
	h, _, err := s.History(ctxT(t), g, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].MasterEpoch != 1007 || h[0].Reason != ledgerless.ReasonRestored || h[0].OldMasterBrokerID != 1 {
		t.Errorf("history %+v, want one restored entry at 1007 from master 1", h)
	}
	removed, err := s.ReadGroup(ctxT(t), ledgerless.GroupKey{Cluster: "c", Group: "removed"})
	if err != nil {
		t.Fatal(err)
	}
	if removed.Exists() || removed.Group.State.MasterEpoch != 1003 || removed.Group.State.EpochBase != 1003 || removed.Group.State.Restored {
		t.Errorf("removed group after the fence: exists %v, state %+v; want removed at masterEpoch 1003", removed.Exists(), removed.Group.State)
	}

	// A group the snapshot does not know starts fenced, above the margin.
	created := ledgerless.GroupKey{Cluster: "c", Group: "created-after-the-snapshot"}
	fresh, err := s.ReadGroup(ctxT(t), created)
	if err != nil {
		t.Fatal(err)
	}
	wantFresh := ledgerless.State{MasterEpoch: 1000, EpochBase: 1000, SyncStateSetEpoch: 1000, NextBrokerID: 1000, Restored: true}
	if fresh.Exists() || !fresh.Group.State.Equal(wantFresh) {
		t.Errorf("a group the snapshot lacks: exists %v, state %+v; want %+v", fresh.Exists(), fresh.Group.State, wantFresh)
	}
	if err := s.Txn(fresh).PutState(fresh.Group.State).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if fresh, _ = s.ReadGroup(ctxT(t), created); !fresh.Exists() || !fresh.Group.State.Equal(wantFresh) {
		t.Errorf("created after the restore: %+v, want %+v", fresh.Group.State, wantFresh)
	}

	// Writes to a fenced group keep the fence until an election clears it.
	if err := s.Txn(snap).PutState(func() ledgerless.State { n := st; n.NextBrokerID = 4; return n }()).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if snap, _ = s.ReadGroup(ctxT(t), g); !snap.Group.State.Restored {
		t.Errorf("a write kept the state but lost the fence: %+v", snap.Group.State)
	}
	// A fence of another snapshot applies again.
	next, err := s.ApplyFence(ctxT(t), store.Fence{ID: "fedcba9876543210", EpochMargin: 10}, "r", time.Now())
	if err != nil || next.Groups != 3 {
		t.Errorf("a second restore's fence: %+v, %v; want 3 groups", next, err)
	}
	if other, _ := s.ReadGroup(ctxT(t), ledgerless.GroupKey{Cluster: "c", Group: "other"}); other.Group.State.MasterEpoch != 1010 {
		t.Errorf("a new group after two restores at masterEpoch %d, want the margins' sum 1010", other.Group.State.MasterEpoch)
	}
}

// TestSnapshotSaveRestore: a snapshot saved through the maintenance API of
// a running member restores into a new member that holds the same state
// at a revision raised by the bump, with the fence pending in its data dir.
func TestSnapshotSaveRestore(t *testing.T) {
	dir := t.TempDir()
	emb, err := store.StartEmbedded(store.EmbeddedConfig{DataDir: filepath.Join(dir, "a"), Name: "a",
		ClientURL: "http://" + storetest.FreeAddr(), PeerURL: "http://" + storetest.FreeAddr(),
		StartTimeout: 30 * time.Second, UnsafeNoFsync: true, LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(store.ClientConfig{Endpoints: emb.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		emb.Close()
		t.Fatal(err)
	}
	fencedGroups(t, s)
	before, err := s.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "backup.db")
	var calls int
	var last int64
	info, err := s.SaveSnapshot(ctxT(t), path, func(written, _ int64) {
		if written < last {
			t.Errorf("progress went back from %d to %d", last, written)
		}
		calls, last = calls+1, written
	})
	s.Close()
	emb.Close()
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != info.Bytes || info.Revision < before.Group.Index || info.Keys == 0 || len(info.SHA256) != 64 {
		t.Fatalf("snapshot %+v after %d progress calls ending at %d; group index %d", info, calls, last, before.Group.Index)
	}

	peer := "http://" + storetest.FreeAddr()
	restored := filepath.Join(dir, "b")
	_, f, err := store.Restore(store.RestoreConfig{Snapshot: path, DataDir: restored, Name: "b", PeerURL: peer, RevisionBump: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Restore(store.RestoreConfig{Snapshot: path, DataDir: restored, Name: "b", PeerURL: peer}); err == nil {
		t.Errorf("restore into a data dir that holds a member: no error")
	}
	pending, ok, err := store.PendingFence(restored)
	if err != nil || !ok || pending != f || f.ID != info.SHA256[:16] || f.EpochMargin != store.DefaultEpochMargin {
		t.Fatalf("pending fence %+v %v %v; restore said %+v", pending, ok, err, f)
	}
	emb, err = store.StartEmbedded(store.EmbeddedConfig{DataDir: restored, Name: "b",
		ClientURL: "http://" + storetest.FreeAddr(), PeerURL: peer, StartTimeout: 30 * time.Second, UnsafeNoFsync: true, LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	s, err = emb.Open(store.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := s.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Group.State.Equal(before.Group.State) || len(after.Group.Brokers) != 2 {
		t.Errorf("restored state %+v with %d brokers, saved %+v", after.Group.State, len(after.Group.Brokers), before.Group.State)
	}
	if err := s.Txn(after).PutState(after.Group.State).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if written, _ := s.ReadGroup(ctxT(t), g); written.Group.Index <= info.Revision+1_000_000 {
		t.Errorf("first write after the restore at revision %d, want above %d + the bump", written.Group.Index, info.Revision)
	}
	if err := store.ClearPendingFence(restored); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.PendingFence(restored); ok || err != nil {
		t.Errorf("fence pending after clearing: %v %v", ok, err)
	}
}

// BenchmarkApplyFence fences 100 groups of two brokers each; compare with
// BenchmarkPutState, one state write of one group, in the same run.
func BenchmarkApplyFence(b *testing.B) {
	const groups = 100
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s := storetest.Open(b, storetest.Prefix(b))
		for n := range groups {
			gk := ledgerless.GroupKey{Cluster: "c", Group: fmt.Sprintf("g%d", n)}
			snap, err := s.ReadGroup(ctxT(b), gk)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Txn(snap).PutState(ledgerless.State{MasterBrokerID: 1, MasterEpoch: 3, SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 2, NextBrokerID: 3}).Commit(ctxT(b)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		res, err := s.ApplyFence(ctxT(b), store.Fence{ID: fmt.Sprintf("%016d", i), EpochMargin: 1000}, "bench", time.Now())
		if err != nil || res.Groups != groups {
			b.Fatalf("fence %+v, %v", res, err)
		}
	}
	b.ReportMetric(groups, "groups/op")
}

func BenchmarkPutState(b *testing.B) {
	s := storetest.Open(b, storetest.Prefix(b))
	for i := 0; b.Loop(); i++ {
		snap, err := s.ReadGroup(ctxT(b), g)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Txn(snap).PutState(ledgerless.State{MasterEpoch: int64(i), NextBrokerID: 3}).Commit(ctxT(b)); err != nil {
			b.Fatal(err)
		}
	}
}
