package service

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// SharedHeartbeat is the heartbeat of a broker that sends every heartbeat
// to every replica, as a stock RocketMQ broker does (904 to each
// controller address, every second). Handled like Heartbeat by each of N
// replicas, it would cost etcd N lease renewals and up to N writes; here
// it costs what one replica's would.
//
// One replica, the renewer, does the work: the one whose heartbeat record
// is the freshest. Its heartbeats renew the lease and record the data as
// Heartbeat does, which refreshes the record at least every third of the
// heartbeat timeout. Every other replica drops the heartbeats it receives
// while the record it last read is fresh, and reads the record again when
// it is not; if nobody refreshed it, the renewer's heartbeats stopped
// arriving, and this replica takes over with a compare-and-swap on the
// record, so that of several contenders one wins. A broker thus stays
// alive while any replica receives its heartbeats.
func (s *Service) SharedHeartbeat(ctx context.Context, g ledgerless.GroupKey, id int64, beat Beat) (err error) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatDeadline)
	defer cancel()
	e, err := s.acquire(ctx, g, id)
	if err != nil {
		return err
	}
	defer s.release(e)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		fresh := e.m == nil
		if fresh {
			m, _, err := s.store.ReadMember(ctx, g, id)
			if err != nil {
				if errors.Is(err, ledgerless.ErrBrokerNeedToBeRegistered) {
					s.heard.drop(g, id)
				}
				return err
			}
			e.m, e.renewer = m, false
		}
		if !e.renewer && s.othersRenew(e.m, beat) {
			// Kept for this replica's elections, should the renewer's
			// heartbeats stop arriving.
			s.heard.put(g, id, beat.Data, s.now())
			return nil
		}
		if !e.renewer && !fresh {
			// The record is stale as this replica last read it: read it
			// again before taking over.
			e.m = nil
			continue
		}
		ctx, span := s.span(ctx, "ledgerless.heartbeat", g, id)
		st, err := s.beat(ctx, e, beat)
		endSpan(span, st, err)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrLeaseNotFound) {
			e.m = nil
			continue
		}
		if err != nil {
			return err
		}
		e.renewer = true
		return nil
	}
	return conflict("heartbeat")
}

// othersRenew reports whether another replica renews the broker of m, as
// far as this replica last read: the broker is alive, its registration
// unchanged by beat, and its heartbeat record fresh.
func (s *Service) othersRenew(m *store.Member, beat Beat) bool {
	b := m.Broker
	if m.Lease == 0 || (beat.Address != "" && beat.Address != b.Address) || (beat.Timeout != 0 && beat.Timeout != b.HeartbeatTimeout) {
		return false
	}
	return s.now().Sub(b.LastHeartbeat) < takeOverAfter(b.HeartbeatTimeout)
}

// takeOverAfter is the age of a heartbeat record after which a replica
// that receives the broker's heartbeats renews them itself: past the
// renewer's refresh (a third of the timeout) and a heartbeat interval, and
// well before the lease expires.
func takeOverAfter(timeout time.Duration) time.Duration {
	return min(timeout/3+1500*time.Millisecond, timeout*6/10)
}

// Connected records that broker id of group g opened a connection to this
// replica (as stock brokers keep one to each controller), and returns the
// function that records its closing.
func (s *Service) Connected(g ledgerless.GroupKey, id int64) (closed func()) {
	k := memberKey{g, id}
	s.mu.Lock()
	s.conns[k]++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conns[k]--; s.conns[k] <= 0 {
			delete(s.conns, k)
		}
	}
}

// Connections is the number of open connections of broker id of group g
// to this replica.
func (s *Service) Connections(g ledgerless.GroupKey, id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[memberKey{g, id}]
}

// OnElection registers fn to be called after every election this replica
// commits (a push primitive: RocketMQ's NOTIFY_BROKER_ROLE_CHANGED). fn
// must not block.
func (s *Service) OnElection(fn func(ledgerless.GroupKey, ledgerless.HistoryEntry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

func (s *Service) elected(g ledgerless.GroupKey, h ledgerless.HistoryEntry) {
	s.mu.Lock()
	fns := slices.Clone(s.listeners)
	s.mu.Unlock()
	for _, fn := range fns {
		fn(g, h)
	}
}
