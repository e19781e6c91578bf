package bench

import (
	"context"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// observer timestamps group changes as an etcd watch of its own sees them,
// independently of the controller: when a lease expired, or when a change
// was committed.
type observer struct {
	mu   sync.Mutex
	subs map[ledgerless.GroupKey][]subscription
}

type subscription struct {
	match func(store.Change) bool
	at    chan time.Time
}

// observe watches the controller's keys through st until ctx ends. It
// returns once the watch has started.
func observe(ctx context.Context, st *store.Store) (*observer, error) {
	o := &observer{subs: map[ledgerless.GroupKey][]subscription{}}
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		var once sync.Once
		for ctx.Err() == nil {
			err := st.WatchChanges(ctx, 0, func(changes []store.Change, _ int64) {
				once.Do(func() { close(started) })
				o.apply(changes)
			})
			select {
			case errc <- err:
			default:
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	select {
	case <-started:
		return o, nil
	case err := <-errc:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (o *observer) apply(changes []store.Change) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range changes {
		subs := o.subs[c.Group]
		kept := subs[:0]
		for _, s := range subs {
			if s.match(c) {
				s.at <- now
			} else {
				kept = append(kept, s)
			}
		}
		o.subs[c.Group] = kept
	}
}

// next returns a channel that receives the time the watch sees the next
// change of g that match accepts. Subscribe before causing the change.
func (o *observer) next(g ledgerless.GroupKey, match func(store.Change) bool) <-chan time.Time {
	s := subscription{match: match, at: make(chan time.Time, 1)}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.subs[g] = append(o.subs[g], s)
	return s.at
}

// lost matches broker id's alive key going away.
func lost(id int64) func(store.Change) bool {
	return func(c store.Change) bool { return c.Lost && c.BrokerID == id }
}
