package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/ledgerless/ledgerless"
)

// stallAfter is how long an answer may be overdue before the link to etcd
// counts as down: a keep-alive renewal not answered, a watch that made no
// progress since it was asked to. etcd answers both in milliseconds; a
// broker's lease (2 s at least) outlives a silence shorter than this.
const stallAfter = time.Second

// link tracks whether etcd answers a Store's round trips. It is down from
// the moment any source reports a failure (a request that failed or timed
// out, a keep-alive renewal or the watch's progress overdue) until that
// source completes a round trip again, and tells its listeners of every
// change. A replica's election grace is counted from the link's last
// coming up (see service.Hub).
type link struct {
	down atomic.Uint32 // the sources failing now, one bit each

	mu  sync.Mutex // orders the changes of down and their notifications
	fns []func(up bool)
}

// Sources of link reports.
const (
	linkRequests uint32 = 1 << iota // unary requests and keep-alive renewals
	linkWatch                       // the change watch's progress
)

// report records that source src completed a round trip (failing false)
// or could not (failing true), and tells the listeners when the link as a
// whole went down or came up.
func (l *link) report(src uint32, failing bool) {
	if (l.down.Load()&src != 0) == failing {
		return // nothing changes: the path of every request
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.down.Load()
	next := old &^ src
	if failing {
		next |= src
	}
	if next == old {
		return
	}
	l.down.Store(next)
	if (old == 0) != (next == 0) {
		for _, fn := range l.fns {
			fn(next == 0)
		}
	}
}

// observe reports the outcome of a request of method (a gRPC full method
// name). Only the KV and Lease services count: Status and
// MemberList name endpoints one by one, and one member being down is not
// the replica being cut off. A request the caller canceled says nothing.
func (l *link) observe(method string, err error) {
	if !strings.HasPrefix(method, "/etcdserverpb.KV/") && !strings.HasPrefix(method, "/etcdserverpb.Lease/") {
		return
	}
	switch {
	case err == nil:
		l.report(linkRequests, false)
	case unreachable(err):
		l.report(linkRequests, true)
	case errors.Is(err, context.Canceled) || codeOf(err) == codes.Canceled:
	default:
		l.report(linkRequests, false) // etcd answered, with an error
	}
}

// unreachable reports whether err says that etcd could not be reached
// or did not answer in time.
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ledgerless.ErrUnavailable) {
		return true
	}
	switch codeOf(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// OnLink registers fn to be told whenever the link to etcd goes down (a
// request failed or timed out, a keep-alive renewal or the change watch's
// progress is more than a second overdue) or comes up again (each failing
// kind of round trip completed once more). fn is called in order, under
// a lock of the Store's: it must not block nor make etcd requests.
func (s *Store) OnLink(fn func(up bool)) {
	s.link.mu.Lock()
	defer s.link.mu.Unlock()
	s.link.fns = append(s.link.fns, fn)
}
