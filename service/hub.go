package service

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/internal/ratelog"
	"github.com/ledgerless/ledgerless/store"
)

// Hub follows every group's changes through one etcd watch per replica and
// wakes the long polls waiting on them. It also knows for how long this
// replica has been connected to etcd, which gates elections: since the
// watch last started, and since etcd last answered again every kind of
// round trip that had failed (store.OnLink: a request that failed or timed
// out, a keep-alive renewal or the watch's progress overdue). A replica
// cut off from etcd, however silently, counts its grace afresh once it
// hears from etcd again.
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
	// read reads a group for the long polls that one change woke.
	read func(context.Context, ledgerless.GroupKey) (*ledgerless.Group, error)

	mu        sync.Mutex
	start     int64     // the watch's view is complete after this revision
	since     time.Time // the current connected stretch began; zero while none
	down      bool      // the link to etcd is down (store.OnLink)
	last      map[ledgerless.GroupKey]int64
	listeners map[ledgerless.GroupKey]*wakeup
	waiters   int
}

func newHub(st *store.Store, log *slog.Logger, now func() time.Time, onLost func(store.Change),
	read func(context.Context, ledgerless.GroupKey) (*ledgerless.Group, error)) *Hub {
	h := &Hub{store: st, log: log, now: now, onLost: onLost, read: read,
		last: map[ledgerless.GroupKey]int64{}, listeners: map[ledgerless.GroupKey]*wakeup{}}
	if st != nil { // a service built only for its routes has no store
		st.OnLink(h.link)
	}
	return h
}

// link records the link to etcd going down or coming up: the connected
// stretch of a running watch starts again when it comes up.
func (h *Hub) link(up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if up && h.down && !h.since.IsZero() {
		h.since = h.now()
	}
	h.down = !up
}

// Run follows changes until ctx ends, restarting the watch when it breaks.
// While etcd is out of reach that is every 200 ms: it warns once per
// 10 s, with the count of the warnings held back.
func (h *Hub) Run(ctx context.Context) error {
	failures := ratelog.New(10*time.Second, h.now)
	for {
		err := h.store.WatchChanges(ctx, 0, h.apply)
		h.disconnected()
		if ctx.Err() != nil {
			return nil
		}
		if suppressed, ok := failures.Allow("watch"); ok {
			h.log.Warn("etcd watch broken; restarting", "err", err, "suppressed", suppressed)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *Hub) apply(changes []store.Change, revision int64) {
	h.wake(changes, revision)
	// Outside h.mu: the elector's work must not hold up the long polls.
	if h.onLost != nil {
		for _, c := range changes {
			if c.Lost {
				h.onLost(c)
			}
		}
	}
}

// wake records a batch of changes and wakes the long polls they concern.
func (h *Hub) wake(changes []store.Change, revision int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if changes == nil && h.start == 0 {
		// A (re)started watch: everything before revision is unknown, so
		// wake every waiter to read again.
		h.start, h.since = revision, h.now()
		woken := h.listeners
		h.listeners = map[ledgerless.GroupKey]*wakeup{}
		for _, w := range woken {
			h.fire(w)
		}
		return
	}
	var woken []*wakeup
	for _, c := range changes {
		h.last[c.Group] = max(h.last[c.Group], c.Revision)
		if w, ok := h.listeners[c.Group]; ok {
			delete(h.listeners, c.Group)
			woken = append(woken, w)
		}
	}
	// After the whole batch: one read covers every change in it.
	for _, w := range woken {
		h.fire(w)
	}
}

func (h *Hub) disconnected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.start, h.since = 0, time.Time{}
	clear(h.last)
}

// ConnectedFor says how long this replica has been connected to etcd
// without interruption: its watch running and every round trip answered.
func (h *Hub) ConnectedFor() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() || h.down {
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

// wakeup is a group's next change as the long polls waiting for it see
// it. Every long poll it wakes needs the group read afresh; one read that
// starts after the change answers all of them linearizably (each was
// waiting before the change, so the read falls within each request). So
// the hub starts that read itself as soon as it sees the change, and the
// long polls wake up only once it is done, to one Answer: a change
// reaches thousands of long polls of one group for the price of one etcd
// read, one encoding and one wake-up of each.
type wakeup struct {
	group ledgerless.GroupKey
	// Under Hub.mu:
	waiting int  // long polls waiting on it (join, leave)
	fired   bool // the group changed
	reading bool // the read has started

	done chan struct{} // closed when the read after the change is done
	ans  Answer
	err  error
	// next is the group's wake-up taken just before the read started, for
	// the long polls that keep waiting after it.
	next *wakeup
}

// listen returns g's next wake-up. Take it before reading the group, so
// that no change between the read and the wait is missed; join it to wait.
func (h *Hub) listen(g ledgerless.GroupKey) *wakeup {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listenLocked(g)
}

func (h *Hub) listenLocked(g ledgerless.GroupKey) *wakeup {
	w, ok := h.listeners[g]
	if !ok {
		w = &wakeup{group: g, done: make(chan struct{})}
		h.listeners[g] = w
	}
	return w
}

// join counts a long poll in as waiting on w, whose done channel closes
// once the group is read after its change. A wake-up that fired while no
// one waited on it is read now.
func (h *Hub) join(w *wakeup) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w.waiting++
	if w.fired && !w.reading {
		h.startRead(w)
	}
}

// leave counts a long poll out of w.
func (h *Hub) leave(w *wakeup) {
	h.mu.Lock()
	w.waiting--
	h.mu.Unlock()
}

// follow moves a long poll from w, whose read is done, to the wake-up
// after it.
func (h *Hub) follow(w *wakeup) *wakeup {
	h.leave(w)
	h.join(w.next)
	return w.next
}

// fire marks w's change, once w has left the listeners, and starts its
// read if anyone waits. h.mu is held.
func (h *Hub) fire(w *wakeup) {
	w.fired = true
	if w.waiting > 0 {
		h.startRead(w)
	}
}

// startRead reads w's group for the long polls waiting on it. It takes the
// group's next wake-up first, so that every change after the read began
// wakes them again. h.mu is held. The read runs for at most rereadTimeout,
// whether or not anyone still waits for it.
func (h *Hub) startRead(w *wakeup) {
	w.reading = true
	w.next = h.listenLocked(w.group)
	go func() {
		defer close(w.done)
		ctx, cancel := context.WithTimeout(context.Background(), rereadTimeout)
		defer cancel()
		grp, err := h.read(ctx, w.group)
		w.ans, w.err = Answer{Group: grp, enc: &encoding{}}, err
	}()
}

// rereadTimeout bounds the read shared by the long polls of one wake-up.
const rereadTimeout = 10 * time.Second

// Waiting is the number of long polls waiting for g's next change.
func (h *Hub) Waiting(g ledgerless.GroupKey) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.listeners[g]; ok {
		return w.waiting
	}
	return 0
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
