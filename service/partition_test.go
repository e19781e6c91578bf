package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// beatLog records the heartbeats a test's brokers sent: how long each
// took and how it ended.
type beatLog struct {
	mu    sync.Mutex
	beats []beatOutcome
}

type beatOutcome struct {
	broker int64
	at     time.Time
	took   time.Duration
	err    error
}

func (l *beatLog) add(o beatOutcome) {
	l.mu.Lock()
	l.beats = append(l.beats, o)
	l.mu.Unlock()
}

func (l *beatLog) all() []beatOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]beatOutcome(nil), l.beats...)
}

// heartbeating makes brokers ids of g heartbeat through r every interval,
// each heartbeat with deadline, until the test ends, and logs them.
func heartbeating(t *testing.T, r *replica, g ledgerless.GroupKey, interval, deadline time.Duration, ids ...int64) *beatLog {
	log := &beatLog{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(interval):
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				_, err := r.Heartbeat(ctx, g, id, service.Beat{})
				cancel()
				log.add(beatOutcome{broker: id, at: start, took: time.Since(start), err: err})
			}
		})
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	return log
}

// A silent partition between the only replica and a healthy etcd (every
// byte held, no connection closed), longer than the brokers' TTL, changes
// no role when it heals: etcd let the leases expire, but the replica,
// which could not hear from etcd, counts its grace from the healing, and
// within it the brokers come alive again through the healed link, the
// master as master. Meanwhile heartbeats fail within their deadline.
func TestSilentPartitionChangesNoRole(t *testing.T) {
	const ttl = 3 * time.Second
	const deadline = 750 * time.Millisecond // the SDK's, for this timeout and interval
	prefix := storetest.Prefix(t)
	r, p := proxied(t, prefix, "r1", nil)
	observer := storetest.Open(t, prefix) // reads etcd directly; elects nothing
	g := key("silent")
	connected(t, ttl, r)
	pair(t, r, g, ttl)
	var mu sync.Mutex
	var elections []ledgerless.HistoryEntry
	r.OnElection(func(_ ledgerless.GroupKey, h ledgerless.HistoryEntry) {
		mu.Lock()
		elections = append(elections, h)
		mu.Unlock()
	})
	before := group(t, r, g)
	beats := heartbeating(t, r, g, 400*time.Millisecond, deadline, 1, 2)

	alive := func(want bool) func() bool {
		return func() bool {
			snap, err := observer.ReadGroup(ctxT(t), g)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range snap.Group.Brokers {
				if b.Alive != want {
					return false
				}
			}
			return true
		}
	}
	eventually(t, 4*ttl, func() bool { // both heartbeat through the replica's cache
		ok := map[int64]bool{}
		for _, b := range beats.all() {
			ok[b.broker] = ok[b.broker] || b.err == nil
		}
		return ok[1] && ok[2]
	})
	p.Silence()
	silenced := time.Now()
	// As long as the partition reported: etcd expired both leases, and 8 s.
	eventually(t, 4*ttl, alive(false))
	// A heartbeat whose caller sets no deadline (a REST client without a
	// timeout) fails by the replica's own.
	start := time.Now()
	if _, err := r.Heartbeat(context.Background(), g, 1, service.Beat{}); !errors.Is(err, ledgerless.ErrUnavailable) {
		t.Errorf("a heartbeat without a deadline on a silent link: %v, want ErrUnavailable (503)", err)
	}
	if took := time.Since(start); took > ledgerless.MinHeartbeatTimeout+250*time.Millisecond {
		t.Errorf("a heartbeat without a deadline took %s on a silent link", took)
	}
	eventually(t, 10*time.Second, func() bool { return time.Since(silenced) >= 8*time.Second })
	p.Heal()
	healed := time.Now()
	eventually(t, 4*ttl, alive(true))
	revivedAt := time.Now()
	revived := revivedAt.Sub(healed)
	// Past the grace and a reconcile: an election for the expired master
	// would have been committed by now.
	eventually(t, 4*ttl, func() bool { return r.Hub().ConnectedFor() > ttl+500*time.Millisecond })
	t.Logf("silent for %s; brokers alive again %s after the healing", healed.Sub(silenced).Round(time.Millisecond),
		revived.Round(time.Millisecond))

	mu.Lock()
	defer mu.Unlock()
	if len(elections) != 0 {
		t.Errorf("elections after a silent partition: %+v", elections)
	}
	after := group(t, r, g)
	if !after.State.Equal(before.State) {
		t.Errorf("roles changed by a silent partition:\nbefore %+v\nafter  %+v", before.State, after.State)
	}
	if h := history(t, r, g); len(h) != 1 {
		t.Errorf("history after a silent partition: %+v", h)
	}
	var failed int
	var longest time.Duration
	for _, b := range beats.all() {
		longest = max(longest, b.took)
		if b.took > deadline+250*time.Millisecond {
			t.Errorf("broker %d's heartbeat at %s took %s, deadline %s", b.broker, b.at.Format("15:04:05.000"), b.took, deadline)
		}
		if b.err != nil {
			failed++
			if !errors.Is(b.err, ledgerless.ErrUnavailable) {
				t.Errorf("broker %d's heartbeat at %s: %v, want ErrUnavailable (503)", b.broker, b.at.Format("15:04:05.000"), b.err)
			}
			if b.at.Before(silenced) || b.at.After(revivedAt) {
				t.Errorf("broker %d's heartbeat at %s, before the silence or after both brokers were alive again: %v",
					b.broker, b.at.Format("15:04:05.000"), b.err)
			}
		}
	}
	if failed == 0 {
		t.Errorf("no heartbeat failed while the link was silent")
	}
	t.Logf("%d heartbeats failed in the silence; the longest took %s", failed, longest.Round(time.Millisecond))
}
