package service_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// onRequest calls fn after each etcd request of a Store, with the method.
type onRequest func(method string)

func (f onRequest) EtcdRequest(method string, _ time.Duration) { f(method) }

// proxied starts a replica whose etcd connection runs through a proxy the
// test owns, observed by obs.
func proxied(t *testing.T, prefix, id string, obs store.RequestObserver) (*replica, *storetest.Proxy) {
	t.Helper()
	p := storetest.NewProxy(t, storetest.Addr(t))
	st := storetest.OpenConfig(t, store.ClientConfig{Endpoints: []string{p.Endpoint()}, Prefix: prefix, Observer: obs})
	r := startReplicaWith(t, prefix, service.Options{ReplicaID: id, Reconcile: 200 * time.Millisecond, Store: st})
	t.Cleanup(p.Heal) // before the replica stops
	return r, p
}

// A registration whose commit reaches etcd but whose answer never comes
// back may have made the broker alive and master: the replica must not
// revoke the lease it granted for it.
func TestAmbiguousRegistrationKeepsTheLease(t *testing.T) {
	prefix := storetest.Prefix(t)
	g := key("ambiguous")
	var p *storetest.Proxy
	var armed atomic.Bool
	r, p := proxied(t, prefix, "r1", onRequest(func(method string) {
		// The lease is granted; the next request is the commit, which etcd
		// receives and answers into the void.
		if method == "LeaseGrant" && armed.CompareAndSwap(true, false) {
			p.Hold(storetest.ToClient)
		}
	}))
	direct := startReplica(t, prefix, "r2")
	armed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, _, err := r.Register(ctx, g, service.Registration{Address: "127.0.0.1:1", RegisterCode: "a", Timeout: 10 * time.Second})
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ledgerless.ErrUnavailable) {
			t.Fatalf("register with its answer lost: %v, want ErrUnavailable", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("register outlived its deadline by 28 s")
	}
	grp := group(t, direct, g)
	if len(grp.Brokers) != 1 || !grp.Brokers[0].Alive || grp.State.MasterBrokerID != grp.Brokers[0].ID {
		t.Fatalf("after an ambiguous commit: %+v, want broker 1 alive and master", grp)
	}
}

// racing returns a replica whose first etcd transaction after arm() is
// followed, before the replica goes on, by race: what another replica does
// between this one's read and its commit.
func racing(t *testing.T, prefix string, race func()) (r *replica, arm func()) {
	t.Helper()
	var armed atomic.Bool
	st := storetest.OpenConfig(t, store.ClientConfig{Prefix: prefix, Observer: onRequest(func(method string) {
		if method == "Txn" && armed.CompareAndSwap(true, false) {
			race()
		}
	})})
	r = startReplicaWith(t, prefix, service.Options{ReplicaID: "racing", Reconcile: time.Hour, Store: st})
	return r, func() { armed.Store(true) }
}

// A dead broker that comes alive between a removal's read and its commit
// is alive: the removal without force is refused, as it would have been
// had it read a moment later.
func TestRemoveBrokerRacingARevival(t *testing.T) {
	prefix := storetest.Prefix(t)
	g := key("remove-revival")
	other := startReplica(t, prefix, "other")
	register(t, other, g, "a", 10*time.Second)
	id := register(t, other, g, "b", 10*time.Second)
	kill(t, other, g, id)
	r, arm := racing(t, prefix, func() { heartbeat(t, other, g, id, ledgerless.HeartbeatData{}) })
	arm()
	err := r.RemoveBroker(ctxT(t), g, id, false)
	if !errors.Is(err, ledgerless.ErrInvalidCleanBrokerMeta) {
		t.Fatalf("removing broker %d, revived meanwhile: %v, want ErrInvalidCleanBrokerMeta", id, err)
	}
	if b, ok := group(t, other, g).Broker(id); !ok || !b.Alive {
		t.Fatalf("broker %d after the refused removal: %+v (registered %v), want alive", id, b, ok)
	}
}

// The same for a whole group whose brokers were all dead when read.
func TestRemoveGroupRacingARevival(t *testing.T) {
	prefix := storetest.Prefix(t)
	g := key("remove-group-revival")
	other := startReplica(t, prefix, "other")
	master := register(t, other, g, "a", 10*time.Second)
	kill(t, other, g, master)
	r, arm := racing(t, prefix, func() { heartbeat(t, other, g, master, ledgerless.HeartbeatData{}) })
	arm()
	err := r.RemoveGroup(ctxT(t), g, false)
	if !errors.Is(err, ledgerless.ErrInvalidCleanBrokerMeta) {
		t.Fatalf("removing %s, whose broker revived meanwhile: %v, want ErrInvalidCleanBrokerMeta", g, err)
	}
	if b, ok := group(t, other, g).Broker(master); !ok || !b.Alive {
		t.Fatalf("broker %d after the refused removal: %+v (registered %v), want alive", master, b, ok)
	}
}
