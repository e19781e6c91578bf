package service

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// Hub follows every group's changes through one etcd watch per replica and
// wakes the long polls waiting on them. It also knows for how long this
// replica's view of etcd has been complete, which gates elections.
//
// A group's long-poll index is the largest of: the revisions of its stored
// state, registrations and alive keys (read with the group), the revision of
// the last change the watch saw for it (deletions leave no key behind), and
// the revision the watch started after. The last term makes a replica that
// did not see a deletion answer at once rather than miss it: a spurious
// wake-up is harmless, a missed one is not.
type Hub struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	// onLost is called for every lost broker lease.
	onLost func(store.Change)

	mu        sync.Mutex
	start     int64 // the watch's view is complete after this revision
	since     time.Time
	last      map[ledgerless.GroupKey]int64
	listeners map[ledgerless.GroupKey]chan struct{}
	waiters   int
}

func newHub(st *store.Store, log *slog.Logger, now func() time.Time, onLost func(store.Change)) *Hub {
	return &Hub{store: st, log: log, now: now, onLost: onLost,
		last: map[ledgerless.GroupKey]int64{}, listeners: map[ledgerless.GroupKey]chan struct{}{}}
}

// Run follows changes until ctx ends, restarting the watch when it breaks.
func (h *Hub) Run(ctx context.Context) error {
	for {
		err := h.store.WatchChanges(ctx, 0, h.apply)
		h.disconnected()
		if ctx.Err() != nil {
			return nil
		}
		h.log.Warn("etcd watch broken; restarting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *Hub) apply(changes []store.Change, revision int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if changes == nil && h.start == 0 {
		// A (re)started watch: everything before revision is unknown, so
		// wake every waiter to read again.
		h.start, h.since = revision, h.now()
		for g, ch := range h.listeners {
			close(ch)
			delete(h.listeners, g)
		}
		return
	}
	for _, c := range changes {
		h.last[c.Group] = max(h.last[c.Group], c.Revision)
		if ch, ok := h.listeners[c.Group]; ok {
			close(ch)
			delete(h.listeners, c.Group)
		}
		if c.Lost && h.onLost != nil {
			h.onLost(c)
		}
	}
}

func (h *Hub) disconnected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.start, h.since = 0, time.Time{}
	clear(h.last)
}

// ConnectedFor says how long the watch has been running without a break.
func (h *Hub) ConnectedFor() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		return 0
	}
	return h.now().Sub(h.since)
}

// floor is the smallest index a read of g that starts now may report.
func (h *Hub) floor(g ledgerless.GroupKey) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return max(h.start, h.last[g])
}

// floors is floor for every group, as of now: later changes do not move it.
func (h *Hub) floors() func(ledgerless.GroupKey) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	start, last := h.start, maps.Clone(h.last)
	return func(g ledgerless.GroupKey) int64 { return max(start, last[g]) }
}

// listen returns a channel closed at g's next change. Take it before
// reading the group, so that no change between the read and the wait is
// missed.
func (h *Hub) listen(g ledgerless.GroupKey) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.listeners[g]
	if !ok {
		ch = make(chan struct{})
		h.listeners[g] = ch
	}
	return ch
}

// addWaiter counts a long poll in unless limit (when above 0) are waiting.
func (h *Hub) addWaiter(limit int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit > 0 && h.waiters >= limit {
		return false
	}
	h.waiters++
	return true
}

func (h *Hub) removeWaiter() {
	h.mu.Lock()
	h.waiters--
	h.mu.Unlock()
}

// Waiters is the number of long polls waiting now.
func (h *Hub) Waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.waiters
}
