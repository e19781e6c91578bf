// Package ratelog limits log lines that repeat. A failure that every
// request meets (etcd unreachable, every heartbeat failing) would write a
// line per request; a Limiter lets one line of each kind through per
// interval, and that line says how many of its kind were held back since
// the last one.
package ratelog

import (
	"sync"
	"time"
)

// maxKinds bounds the kinds a Limiter remembers; callers name kinds from
// a small set (a route and a problem code), so it is only a guard.
const maxKinds = 1024

// Limiter decides which lines of each kind are logged.
type Limiter struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds map[string]*kind
}

type kind struct {
	logged     time.Time // when the last line of the kind was let through
	suppressed int       // lines held back since
}

// New returns a Limiter that lets one line of each kind through per
// interval, timed by now (nil: time.Now).
func New(interval time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{interval: interval, now: now, kinds: map[string]*kind{}}
}

// Allow reports whether a line of kind k is to be logged now, and if so
// how many lines of k were held back since the last one logged.
func (l *Limiter) Allow(k string) (suppressed int, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.kinds[k]
	if st == nil {
		if len(l.kinds) >= maxKinds {
			l.forget(now)
		}
		l.kinds[k] = &kind{logged: now}
		return 0, true
	}
	if now.Sub(st.logged) < l.interval {
		st.suppressed++
		return 0, false
	}
	suppressed = st.suppressed
	st.logged, st.suppressed = now, 0
	return suppressed, true
}

// forget drops the kinds with nothing held back whose interval is over.
func (l *Limiter) forget(now time.Time) {
	for k, st := range l.kinds {
		if st.suppressed == 0 && now.Sub(st.logged) >= l.interval {
			delete(l.kinds, k)
		}
	}
}
