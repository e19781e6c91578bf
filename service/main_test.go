package service_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// replica is one running Service with its own etcd client, as a separate
// controller process would have.
type replica struct {
	*service.Service
	store  *store.Store
	cancel context.CancelFunc
	done   chan struct{}
}

func startReplica(t testing.TB, prefix, id string) *replica {
	t.Helper()
	return startReplicaWith(t, prefix, service.Options{ReplicaID: id, Reconcile: 200 * time.Millisecond})
}

// startReplicaWith is startReplica with options; a Store on prefix is
// opened unless they name one.
func startReplicaWith(t testing.TB, prefix string, opts service.Options) *replica {
	t.Helper()
	if opts.Store == nil {
		opts.Store = storetest.Open(t, prefix)
	}
	id, st := opts.ReplicaID, opts.Store
	svc := service.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{Service: svc, store: st, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := svc.Run(ctx); err != nil {
			t.Errorf("replica %s: %v", id, err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
}

// connected waits until every replica's watch has run for d, so that the
// grace after connecting to etcd does not hold elections back.
func connected(t *testing.T, d time.Duration, rs ...*replica) {
	t.Helper()
	eventually(t, d+10*time.Second, func() bool {
		for _, r := range rs {
			if r.Hub().ConnectedFor() < d {
				return false
			}
		}
		return true
	})
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func key(group string) ledgerless.GroupKey { return ledgerless.GroupKey{Cluster: "c1", Group: group} }

func register(t *testing.T, r *replica, g ledgerless.GroupKey, code string, timeout time.Duration) int64 {
	t.Helper()
	id, _, err := r.Register(ctxT(t), g, service.Registration{Address: "127.0.0.1:" + code, RegisterCode: code, Timeout: timeout})
	if err != nil {
		t.Fatalf("register %s: %v", code, err)
	}
	return id
}

func group(t *testing.T, r *replica, g ledgerless.GroupKey) *ledgerless.Group {
	t.Helper()
	grp, err := r.Group(ctxT(t), g)
	if err != nil {
		t.Fatalf("group %s: %v", g, err)
	}
	return grp
}

func heartbeat(t *testing.T, r *replica, g ledgerless.GroupKey, id int64, d ledgerless.HeartbeatData) ledgerless.State {
	t.Helper()
	st, err := r.Heartbeat(ctxT(t), g, id, service.Beat{Data: d})
	if err != nil {
		t.Fatalf("heartbeat %d: %v", id, err)
	}
	return st
}

// inSync makes the master of g put ids into the SyncStateSet.
func inSync(t *testing.T, r *replica, g ledgerless.GroupKey, ids ...int64) {
	t.Helper()
	st := group(t, r, g).State
	if _, err := r.AlterSyncStateSet(ctxT(t), g, election.Alter{MasterBrokerID: st.MasterBrokerID,
		MasterEpoch: st.MasterEpoch, SyncStateSet: ids, SyncStateSetEpoch: st.SyncStateSetEpoch}); err != nil {
		t.Fatalf("alter sync state set: %v", err)
	}
}

// kill revokes broker id's lease behind the service's back, as a lease
// expiry would: nothing but the watch and the reconcile learn of it.
func kill(t *testing.T, r *replica, g ledgerless.GroupKey, id int64) {
	t.Helper()
	before := group(t, r, g).Index
	snap, err := r.store.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.RevokeLease(ctxT(t), snap.Lease(id)); err != nil {
		t.Fatal(err)
	}
	// Return once r's watch saw the lease go, so that the group's index no
	// longer moves because of it.
	if grp, err := r.WaitGroup(ctxT(t), g, before, 10*time.Second); err != nil || grp.Index <= before {
		t.Fatalf("the replica never saw broker %d's lease go (index %d): %v", id, before, err)
	}
}

func history(t *testing.T, r *replica, g ledgerless.GroupKey) []ledgerless.HistoryEntry {
	t.Helper()
	h, _, err := r.History(ctxT(t), g, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
