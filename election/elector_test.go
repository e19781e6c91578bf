package election_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// masterLost writes group g with master 1, whose lease is gone, and
// broker 2 alive in the SyncStateSet: an election is due.
func masterLost(t *testing.T, ctx context.Context, s *store.Store, g ledgerless.GroupKey) {
	t.Helper()
	snap, err := s.ReadGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := s.GrantLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	txn := s.Txn(snap).PutState(ledgerless.State{MasterBrokerID: 1, MasterAddress: "127.0.0.1:1", MasterEpoch: 1,
		SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 1, NextBrokerID: 3})
	for id := int64(1); id <= 2; id++ {
		txn.PutBroker(ledgerless.Broker{ID: id, Address: "127.0.0.1:1", RegisterCode: "x", HeartbeatTimeout: 10 * time.Second}, now)
	}
	if err := txn.PutAlive(2, lease, 10*time.Second, now).Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// An election that hangs holds one of the replica's parallel elections,
// not all of them: the other group is elected meanwhile, and the hung
// group has one election under way, however often the reconcile asks.
func TestHungElectionStallsNoOther(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := storetest.Open(t, storetest.Prefix(t))
	hung := ledgerless.GroupKey{Cluster: "c", Group: "hung"}
	other := ledgerless.GroupKey{Cluster: "c", Group: "other"}
	masterLost(t, ctx, s, hung)
	masterLost(t, ctx, s, other)

	release := make(chan struct{})
	var hungCalls atomic.Int32
	e := election.NewElector(election.Options{Store: s, Replica: "r1", Reconcile: 20 * time.Millisecond,
		Parallel: 2, ElectionTimeout: time.Second,
		ConnectedFor: func() time.Duration { return time.Hour },
		// Heard is called inside each election: for hung, it stands for
		// an etcd call that does not return.
		Heard: func(g ledgerless.GroupKey) map[int64]election.Heard {
			if g == hung {
				hungCalls.Add(1)
				<-release
			}
			return nil
		}})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()

	elected := func(g ledgerless.GroupKey) bool {
		snap, err := s.ReadGroup(ctx, g)
		return err == nil && snap.Group.State.MasterBrokerID == 2
	}
	deadline := time.Now().Add(5 * time.Second)
	for !elected(other) {
		if time.Now().After(deadline) {
			t.Fatal("the other group was not elected while one election hung")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // ten reconciles more
	if n := hungCalls.Load(); n != 1 {
		t.Errorf("the hung group's election started %d times while it hung, want 1", n)
	}
	close(release)
	// Once the call returns the group is elected: by that election, or,
	// had it outlived its deadline, by one a later reconcile starts.
	deadline = time.Now().Add(5 * time.Second)
	for !elected(hung) {
		if time.Now().After(deadline) {
			t.Fatal("the hung group was not elected once the call returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
