package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var g = ledgerless.GroupKey{Cluster: "c", Group: "g"}

// opener opens a Store below a prefix of the test's own.
type opener func(t *testing.T) *store.Store

// clients runs test with a Store whose client reaches etcd over gRPC, as
// replicas with an external etcd have, and with one that calls the
// embedded etcd in process, as a replica that embeds etcd has.
func clients(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("grpc", func(t *testing.T) {
		test(t, func(t *testing.T) *store.Store { return storetest.Open(t, storetest.Prefix(t)) })
	})
	t.Run("in-process", func(t *testing.T) {
		test(t, func(t *testing.T) *store.Store { return storetest.OpenInProcess(t, storetest.Prefix(t)) })
	})
}

// create writes a group with one alive broker and returns the store.
func create(t *testing.T, open opener) (*store.Store, store.LeaseID) {
	t.Helper()
	s := open(t)
	snap, err := s.ReadGroup(ctxT(t), g)
	if err != nil || snap.Exists() {
		t.Fatalf("new group: %v exists=%v", err, snap.Exists())
	}
	lease, err := s.GrantLease(ctxT(t), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := ledgerless.Broker{ID: 1, Address: "127.0.0.1:1", RegisterCode: "x", HeartbeatTimeout: 10 * time.Second}
	if err := s.Txn(snap).PutState(ledgerless.State{NextBrokerID: 2}).PutBroker(b, time.Now()).
		PutAlive(1, lease, 10*time.Second, time.Now()).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return s, lease
}

func TestStaleSnapshotConflicts(t *testing.T) { clients(t, testStaleSnapshotConflicts) }

func testStaleSnapshotConflicts(t *testing.T, open opener) {
	s, _ := create(t, open)
	a, _ := s.ReadGroup(ctxT(t), g)
	b, _ := s.ReadGroup(ctxT(t), g)
	if err := s.Txn(a).PutState(ledgerless.State{NextBrokerID: 3}).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Txn(b).PutState(ledgerless.State{NextBrokerID: 9}).Commit(ctxT(t)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit on a stale snapshot: %v, want ErrConflict", err)
	}
	snap, _ := s.ReadGroup(ctxT(t), g)
	if snap.Group.State.NextBrokerID != 3 {
		t.Fatalf("state %+v", snap.Group.State)
	}
}

func TestRequireAliveFailsAfterLeaseLoss(t *testing.T) {
	clients(t, testRequireAliveFailsAfterLeaseLoss)
}

func testRequireAliveFailsAfterLeaseLoss(t *testing.T, open opener) {
	s, lease := create(t, open)
	snap, _ := s.ReadGroup(ctxT(t), g)
	if b, _ := snap.Group.Broker(1); !b.Alive {
		t.Fatal("broker not alive")
	}
	if err := s.RevokeLease(ctxT(t), lease); err != nil {
		t.Fatal(err)
	}
	// Only the alive key changed: the state compare alone would pass.
	if err := s.Txn(snap).RequireAlive(1).PutState(ledgerless.State{MasterBrokerID: 1}).Commit(ctxT(t)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit requiring a lost broker alive: %v", err)
	}
	if err := s.RevokeLease(ctxT(t), lease); err != nil {
		t.Fatalf("revoking a revoked lease: %v", err)
	}
}

func TestKeepAliveOverSharedStreams(t *testing.T) { clients(t, testKeepAliveOverSharedStreams) }

func testKeepAliveOverSharedStreams(t *testing.T, open opener) {
	s := open(t)
	leases := make([]store.LeaseID, 40)
	for i := range leases {
		var err error
		if leases[i], err = s.GrantLease(ctxT(t), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for round := range 5 {
		for _, l := range leases {
			wg.Go(func() {
				ttl, err := s.KeepAlive(ctxT(t), l)
				if err != nil || ttl != 5*time.Second {
					t.Errorf("round %d lease %x: ttl %s, %v", round, l, ttl, err)
				}
			})
		}
	}
	wg.Wait()
	if err := s.RevokeLease(ctxT(t), leases[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeepAlive(ctxT(t), leases[0]); !errors.Is(err, store.ErrLeaseNotFound) {
		t.Fatalf("renewing a revoked lease: %v, want ErrLeaseNotFound", err)
	}
	if _, err := s.KeepAlive(ctxT(t), leases[1]); err != nil {
		t.Fatalf("other leases on the same stream still renew: %v", err)
	}
}

func TestWatchReportsLostLease(t *testing.T) { clients(t, testWatchReportsLostLease) }

func testWatchReportsLostLease(t *testing.T, open opener) {
	s, lease := create(t, open)
	got := make(chan store.Change, 8)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	started := make(chan int64, 1)
	go func() {
		_ = s.WatchChanges(ctx, 0, func(changes []store.Change, rev int64) {
			if changes == nil {
				started <- rev
			}
			for _, c := range changes {
				got <- c
			}
		})
	}()
	from := <-started
	if err := s.RevokeLease(ctxT(t), lease); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.Group != g || !c.Lost || c.BrokerID != 1 || c.Revision <= from {
			t.Fatalf("change %+v (watch from %d)", c, from)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
	}
}

// TestBeatsCommitTogetherAndFailAlone sends many concurrent heartbeats,
// one of them from a stale member cache: it alone must get ErrConflict,
// whatever batch it lands in, and every other beat must be recorded.
func TestBeatsCommitTogetherAndFailAlone(t *testing.T) {
	clients(t, testBeatsCommitTogetherAndFailAlone)
}

func testBeatsCommitTogetherAndFailAlone(t *testing.T, open opener) {
	s := open(t)
	const n = 40
	var members []*store.Member
	for i := range n {
		grp := ledgerless.GroupKey{Cluster: "c", Group: fmt.Sprintf("g%d", i%7)}
		snap, err := s.ReadGroup(ctxT(t), grp)
		if err != nil {
			t.Fatal(err)
		}
		id := int64(i/7 + 1)
		txn := s.Txn(snap).PutBroker(ledgerless.Broker{ID: id, Address: "127.0.0.1:1", RegisterCode: fmt.Sprint(i)}, time.Now())
		if !snap.Exists() {
			txn.PutState(ledgerless.State{MasterBrokerID: 1, MasterEpoch: 1})
		}
		if err := txn.Commit(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		m, _, err := s.ReadMember(ctxT(t), grp, id)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	// Make member 0's cache stale: someone else recorded data since.
	other, _, _ := s.ReadMember(ctxT(t), members[0].Group, members[0].Broker.ID)
	if _, err := s.Beat(ctxT(t), other, &ledgerless.HeartbeatData{Epoch: 1}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, m := range members {
			wg.Go(func() {
				st, err := s.Beat(ctxT(t), m, &ledgerless.HeartbeatData{Epoch: 2, MaxOffset: int64(round)}, time.Now())
				if err == nil && st.MasterEpoch != 1 {
					err = fmt.Errorf("state %+v", st)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			switch {
			case i == 0 && !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: the stale beat got %v, want ErrConflict", round, err)
			case i != 0 && err != nil:
				t.Fatalf("round %d: beat %d: %v", round, i, err)
			}
		}
	}
	snap, _ := s.ReadGroup(ctxT(t), members[1].Group)
	if b, _ := snap.Group.Broker(members[1].Broker.ID); b.Heartbeat.MaxOffset != 2 || b.Heartbeat.Epoch != 2 {
		t.Fatalf("recorded %+v", b.Heartbeat)
	}
}

// TestTwoBeatsOfOneBrokerInOneBatch sends, for each of many brokers, two
// concurrent heartbeats from two cached members of it, as two Services on
// one Store (or a cache entry replaced while in use) would: etcd refuses a
// transaction that writes one key twice, so a batch that carried both would
// fail every beat in it. Of each broker's two beats one records its data
// and the other, whose compare is stale then, gets ErrConflict; no beat
// gets any other error.
func TestTwoBeatsOfOneBrokerInOneBatch(t *testing.T) { clients(t, testTwoBeatsOfOneBrokerInOneBatch) }

func testTwoBeatsOfOneBrokerInOneBatch(t *testing.T, open opener) {
	s := open(t)
	const n = 40
	var pairs [][2]*store.Member
	for i := range n {
		grp := ledgerless.GroupKey{Cluster: "c", Group: fmt.Sprintf("g%d", i%5)}
		snap, err := s.ReadGroup(ctxT(t), grp)
		if err != nil {
			t.Fatal(err)
		}
		id := int64(i/5 + 1)
		txn := s.Txn(snap).PutBroker(ledgerless.Broker{ID: id, Address: "127.0.0.1:1", RegisterCode: fmt.Sprint(i)}, time.Now())
		if !snap.Exists() {
			txn.PutState(ledgerless.State{MasterBrokerID: 1, MasterEpoch: 1})
		}
		if err := txn.Commit(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		var p [2]*store.Member
		for j := range p {
			if p[j], _, err = s.ReadMember(ctxT(t), grp, id); err != nil {
				t.Fatal(err)
			}
		}
		pairs = append(pairs, p)
	}
	for round := range 5 {
		errs := make([][2]error, n)
		var wg sync.WaitGroup
		for i, p := range pairs {
			for j, m := range p {
				wg.Go(func() {
					_, errs[i][j] = s.Beat(ctxT(t), m, &ledgerless.HeartbeatData{Epoch: 1, MaxOffset: int64(round)}, time.Now())
				})
			}
		}
		wg.Wait()
		for i, e := range errs {
			ok := 0
			for _, err := range e {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, store.ErrConflict):
					t.Fatalf("round %d: a beat of broker pair %d: %v", round, i, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: broker pair %d: %d beats recorded, want 1 (%v)", round, i, ok, e)
			}
		}
		// Each broker's loser reads afresh, as Service does after a conflict.
		for i, e := range errs {
			for j, err := range e {
				if err != nil {
					m, _, rerr := s.ReadMember(ctxT(t), pairs[i][j].Group, pairs[i][j].Broker.ID)
					if rerr != nil {
						t.Fatal(rerr)
					}
					pairs[i][j] = m
				}
			}
		}
	}
}
