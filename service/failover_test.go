package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// TestLongPollSeesEveryFailover checks that a long-polling slave sees
// each new master, without waiting for its poll to time out. (`ledgerless
// bench` measures how soon, through the REST API.)
func TestLongPollSeesEveryFailover(t *testing.T) {
	rs, lost := failoverSetup(t, ledgerless.DefaultHeartbeatTimeout)
	for i := range 40 {
		if d := failoverTrial(t, rs, key(fmt.Sprintf("g%d", i)), ledgerless.DefaultHeartbeatTimeout, lost); d > 5*time.Second {
			t.Errorf("trial %d: the new master reached the long poll after %s", i, d)
		}
	}
}

// failoverSetup starts three replicas connected for at least ttl and a
// watch that reports when broker 1 of any group loses its lease.
func failoverSetup(b testing.TB, ttl time.Duration) ([]*replica, <-chan time.Time) {
	prefix := storetest.Prefix(b)
	rs := []*replica{startReplica(b, prefix, "r1"), startReplica(b, prefix, "r2"), startReplica(b, prefix, "r3")}
	for _, r := range rs {
		for r.Hub().ConnectedFor() < ttl {
			time.Sleep(50 * time.Millisecond)
		}
	}
	lost := make(chan time.Time, 16)
	watcher := storetest.Open(b, prefix)
	wctx, stop := context.WithCancel(context.Background())
	b.Cleanup(stop)
	go func() {
		_ = watcher.WatchChanges(wctx, 0, func(changes []store.Change, _ int64) {
			for _, c := range changes {
				if c.Lost && c.BrokerID == 1 {
					lost <- time.Now()
				}
			}
		})
	}()
	return rs, lost
}

// failoverTrial revokes the lease of the master of a new group g and
// returns the time until a slave long-polling another replica sees itself
// master.
func failoverTrial(b testing.TB, rs []*replica, g ledgerless.GroupKey, ttl time.Duration, lost <-chan time.Time) time.Duration {
	ctx := context.Background()
	r := rs[0]
	mustID := func(id int64, _ *ledgerless.Group, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	mustID(r.Register(ctx, g, service.Registration{Address: "127.0.0.1:1", RegisterCode: "m", Timeout: ttl}))
	mustID(r.Register(ctx, g, service.Registration{Address: "127.0.0.1:2", RegisterCode: "s", Timeout: ttl}))
	grp, err := r.Group(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.AlterSyncStateSet(ctx, g, election.Alter{MasterBrokerID: 1, MasterEpoch: grp.State.MasterEpoch, SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: grp.State.SyncStateSetEpoch}); err != nil {
		b.Fatal(err)
	}
	grp, _ = r.Group(ctx, g)
	snap, err := r.store.ReadGroup(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	// The slave long-polls another replica and keeps heartbeating.
	seen := make(chan time.Time, 1)
	go func() {
		idx := grp.Index
		for {
			got, err := rs[1].WaitGroup(ctx, g, idx, 20*time.Second)
			if err != nil {
				b.Error(err)
				return
			}
			if got.State.MasterBrokerID == 2 {
				seen <- time.Now()
				return
			}
			idx = got.Index
		}
	}()
	stopBeat := make(chan struct{})
	defer close(stopBeat)
	go func() {
		for {
			select {
			case <-stopBeat:
				return
			case <-time.After(300 * time.Millisecond):
				_, _ = rs[2].Heartbeat(ctx, g, 2, service.Beat{})
			}
		}
	}()
	start := time.Now()
	if err := r.store.RevokeLease(ctx, snap.Lease(1)); err != nil {
		b.Fatal(err)
	}
	<-lost
	return (<-seen).Sub(start)
}
