package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// linkLog records what a Store's OnLink reports, in order.
type linkLog struct {
	mu      sync.Mutex
	changes []linkChange
}

type linkChange struct {
	up bool
	at time.Time
}

func recordLink(s *store.Store) *linkLog {
	l := &linkLog{}
	s.OnLink(func(up bool) {
		l.mu.Lock()
		l.changes = append(l.changes, linkChange{up, time.Now()})
		l.mu.Unlock()
	})
	return l
}

// first returns the first change to up after since, if any.
func (l *linkLog) first(up bool, since time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.changes {
		if c.up == up && !c.at.Before(since) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// proxiedStore opens a Store whose connection to the test etcd runs
// through a proxy the test owns.
func proxiedStore(t *testing.T) (*store.Store, *storetest.Proxy) {
	p := storetest.NewProxy(t, storetest.Addr(t))
	s := storetest.OpenConfig(t, store.ClientConfig{Endpoints: []string{p.Endpoint()}, Prefix: storetest.Prefix(t)})
	t.Cleanup(p.Heal) // before the store closes
	return s, p
}

// An idle replica, which makes no request, still learns that its link
// went silent: the change watch's progress is overdue. It learns that
// the link is back from the next answer.
func TestSilentLinkIsNoticedByTheWatch(t *testing.T) {
	s, p := proxiedStore(t)
	log := recordLink(s)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		done <- s.WatchChanges(ctx, 0, func([]store.Change, int64) { once.Do(func() { close(started) }) })
	}()
	defer func() { cancel(); <-done }()
	<-started
	time.Sleep(time.Second) // a few progress requests are answered
	p.Silence()
	silenced := time.Now()
	waitFor(t, 5*time.Second, func() bool { _, ok := log.first(false, silenced); return ok })
	at, _ := log.first(false, silenced)
	if d := at.Sub(silenced); d > 2*time.Second {
		t.Errorf("a silent link noticed after %s", d)
	}
	p.Heal()
	healed := time.Now()
	waitFor(t, 5*time.Second, func() bool { _, ok := log.first(true, healed); return ok })
	up, _ := log.first(true, healed)
	if at, down := log.first(false, time.Time{}); at.Before(silenced) && down {
		t.Errorf("link reported down at %s, before the silence at %s", at.Format("15:04:05.000"), silenced.Format("15:04:05.000"))
	}
	t.Logf("silence noticed after %s; the healing after %s", at.Sub(silenced).Round(time.Millisecond), up.Sub(healed).Round(time.Millisecond))
}

// While the link is silent, lease renewals fail at their callers'
// deadlines, however many wait, and report the link down; once it heals
// they are answered again.
func TestKeepAliveOnASilentLinkEndsAtItsDeadline(t *testing.T) {
	s, p := proxiedStore(t)
	log := recordLink(s)
	const leases = 64
	ids := make([]store.LeaseID, leases)
	for i := range ids {
		id, err := s.GrantLease(ctxT(t), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		if _, err := s.KeepAlive(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
	}
	p.Silence()
	silenced := time.Now()
	const deadline = 300 * time.Millisecond
	var wg sync.WaitGroup
	var mu sync.Mutex
	var longest time.Duration
	for round := range 5 {
		for i, id := range ids {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				_, err := s.KeepAlive(ctx, id)
				took := time.Since(start)
				mu.Lock()
				longest = max(longest, took)
				mu.Unlock()
				if !errors.Is(err, ledgerless.ErrUnavailable) {
					t.Errorf("round %d, lease %d on a silent link: %v, want ErrUnavailable", round, i, err)
				}
			})
		}
		wg.Wait()
	}
	if longest > deadline+200*time.Millisecond {
		t.Errorf("a renewal with deadline %s took %s on a silent link", deadline, longest)
	}
	if _, ok := log.first(false, silenced); !ok {
		t.Errorf("renewals timed out, and the link was not reported down")
	}
	p.Heal()
	for _, id := range ids {
		if _, err := s.KeepAlive(ctxT(t), id); err != nil {
			t.Fatalf("renewal after the healing: %v", err)
		}
	}
	t.Logf("%d renewals with deadline %s on a silent link: the longest took %s", 5*leases, deadline, longest.Round(time.Millisecond))
}

// An idle watch on a healthy etcd keeps the link up: etcd answers its
// progress requests though nothing changes, in process as over gRPC.
func TestIdleWatchKeepsTheLinkUp(t *testing.T) { clients(t, testIdleWatchKeepsTheLinkUp) }

func testIdleWatchKeepsTheLinkUp(t *testing.T, open opener) {
	s := open(t)
	log := recordLink(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.WatchChanges(ctx, 0, func([]store.Change, int64) {}) }()
	time.Sleep(3 * time.Second) // many times the progress requests' period and stallAfter
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	if at, down := log.first(false, time.Time{}); down {
		t.Fatalf("the link was reported down at %s, with etcd healthy and nothing changing", at.Format("15:04:05.000"))
	}
}
