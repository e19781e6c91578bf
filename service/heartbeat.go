package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
)

// Beat is a broker's heartbeat.
type Beat struct {
	Address string        // "": unchanged
	Timeout time.Duration // 0: unchanged
	Data    ledgerless.HeartbeatData
}

// Heartbeat keeps broker id alive, records its data and returns the
// group's state as of this heartbeat.
//
// The path is built for throughput. A replica caches each broker's
// registration, lease and data revision (store.Member), so that an
// ordinary heartbeat is one lease renewal over a shared keep-alive stream
// and a share of one transaction: store.Beat commits the heartbeats that
// arrive together as one transaction, each comparing its cached revisions,
// writing its data (only when it moved forward) and reading its group's
// state. Controller replicas scale out; etcd does not, so the heartbeat
// path spends controller CPU to save etcd requests. When the cache is stale the compare fails and the
// heartbeat reads the broker afresh; when the lease is gone (expired,
// resigned, or renewed by another replica's revival) the broker is made
// alive again with a new lease, which may elect it.
//
// The data (with lastHeartbeat) is written only when it matters
// (mustRecord: a new epoch or priority, a broker newly alive, a change of
// its group's master or SyncStateSet) and otherwise at most every third
// of the heartbeat timeout, so that most heartbeats renew the lease and
// only read; the replica keeps the latest data it received for its
// elections (heardBook). The lease is renewed on every heartbeat.
func (s *Service) Heartbeat(ctx context.Context, g ledgerless.GroupKey, id int64, beat Beat) (st ledgerless.State, err error) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatDeadline)
	defer cancel()
	ctx, span := s.span(ctx, "ledgerless.heartbeat", g, id)
	defer func() { endSpan(span, st, err) }()
	e, err := s.acquire(ctx, g, id)
	if err != nil {
		return ledgerless.State{}, err
	}
	defer s.release(e)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if e.m == nil {
			m, _, err := s.store.ReadMember(ctx, g, id)
			if err != nil {
				if errors.Is(err, ledgerless.ErrBrokerNeedToBeRegistered) {
					s.heard.drop(g, id)
				}
				return ledgerless.State{}, err
			}
			e.m = m
		}
		st, err := s.beat(ctx, e, beat)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrLeaseNotFound) {
			e.m = nil
			continue
		}
		return st, err
	}
	return ledgerless.State{}, conflict("heartbeat")
}

// heartbeatDeadline bounds a heartbeat whose caller set no earlier
// deadline: one answered later than the shortest heartbeat timeout may be
// too late to keep any broker alive, and while etcd cannot be reached the
// heartbeats fail (503) at this deadline instead of piling up.
const heartbeatDeadline = ledgerless.MinHeartbeatTimeout

// beat is one heartbeat attempt against e's cached member. It returns
// store.ErrConflict or store.ErrLeaseNotFound when the member is stale.
func (s *Service) beat(ctx context.Context, e *memberEntry, beat Beat) (ledgerless.State, error) {
	m := e.m
	b := m.Broker
	changed := (beat.Address != "" && beat.Address != b.Address) || (beat.Timeout != 0 && beat.Timeout != b.HeartbeatTimeout)
	if m.Lease == 0 || changed {
		return ledgerless.State{}, s.revive(ctx, m.Group, b.ID, beat)
	}
	if _, err := s.store.KeepAlive(ctx, m.Lease); err != nil {
		return ledgerless.State{}, err
	}
	now := s.now()
	s.heard.put(m.Group, b.ID, beat.Data, now)
	next, forward := b.Heartbeat.Advance(beat.Data)
	if forward && mustRecord(b, next, e.rec, m.Lease, now) {
		st, err := s.store.Beat(ctx, m, &next, now)
		if err == nil {
			e.rec = recorded{lease: m.Lease, written: markOf(st), seen: markOf(st)}
		}
		return st, err
	}
	st, err := s.store.Beat(ctx, m, nil, now)
	if err != nil {
		return st, err
	}
	e.rec.seen = markOf(st)
	if forward && e.rec.seen != e.rec.written {
		// The group's master or SyncStateSet changed since the last
		// write: the data is recorded with this very heartbeat.
		if st, err = s.store.Beat(ctx, m, &next, now); err == nil {
			e.rec = recorded{lease: m.Lease, written: markOf(st), seen: markOf(st)}
		}
	}
	return st, err
}

// revive makes a registered broker alive again, or changes its address or
// heartbeat timeout, through the registration transaction. It returns
// store.ErrConflict so that the caller re-reads the broker and records the
// heartbeat's data on the next attempt.
func (s *Service) revive(ctx context.Context, g ledgerless.GroupKey, id int64, beat Beat) error {
	snap, err := s.store.ReadGroup(ctx, g)
	if err != nil {
		return err
	}
	b, ok := snap.Group.Broker(id)
	if !ok {
		return fmt.Errorf("broker %d of %s: %w", id, g, ledgerless.ErrBrokerNeedToBeRegistered)
	}
	nb := *b
	if beat.Address != "" {
		nb.Address = beat.Address
	}
	if beat.Timeout != 0 {
		nb.HeartbeatTimeout = beat.Timeout
	}
	if err := s.upsert(ctx, snap, nb); err != nil {
		return err
	}
	return fmt.Errorf("revived %d: %w", id, store.ErrConflict)
}

// Resign ends broker id's liveness: it is no longer alive. When it was
// the master, its successor is elected in the same transaction, at once
// (no grace: it is not a missed heartbeat), with reason master-resigned:
// the replicas that watch the broker's lease never see a master-less
// group to elect for as master-lost. The lease is revoked afterwards.
func (s *Service) Resign(ctx context.Context, g ledgerless.GroupKey, id int64) error {
	// A heartbeat of the broker that this replica is handling finishes
	// before the liveness ends: run alongside, it would find the lease
	// gone and make the broker alive again.
	e, err := s.acquire(ctx, g, id)
	if err != nil {
		return err
	}
	defer func() {
		e.m = nil
		s.release(e)
	}()
	at := s.now()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.store.ReadGroup(ctx, g)
		if err != nil {
			return err
		}
		if _, ok := snap.Group.Broker(id); !ok {
			return fmt.Errorf("broker %d of %s: %w", id, g, ledgerless.ErrBrokerNeedToBeRegistered)
		}
		err = s.resign(ctx, snap, id, at)
		if isConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("resign %d of %s: %w", id, g, err)
		}
		return nil
	}
	return conflict("resign")
}

// resign ends broker id's liveness (endLiveness), with the election of its
// successor when it is the master. A broker that is neither alive nor
// master is left as it is.
func (s *Service) resign(ctx context.Context, snap *store.Snapshot, id int64, at time.Time) error {
	b, _ := snap.Group.Broker(id)
	if !b.Alive && snap.Group.State.MasterBrokerID != id {
		return nil
	}
	return s.endLiveness(ctx, snap, id, election.Resigned, at)
}

// endLiveness ends broker id's liveness in one transaction against snap,
// fenced on its lease and heartbeat revision as read, so that a broker
// that re-registered or reported meanwhile is left alone. When it is the
// master, its successor is elected in the same transaction, for trigger
// (a resignation or a crash: no grace, it is no missed heartbeat), so the
// replicas that watch its lease never see a master-less group to elect
// for as master-lost. Then the lease is revoked; a revocation that fails
// leaves it to expire, its alive key being gone already.
func (s *Service) endLiveness(ctx context.Context, snap *store.Snapshot, id int64, trigger election.Trigger, at time.Time) error {
	g := snap.Group
	txn := s.store.Txn(snap).EndAlive(id)
	var d election.Decision
	var h ledgerless.HistoryEntry
	if g.State.MasterBrokerID == id {
		b, _ := g.Broker(id)
		gone := *b
		gone.Alive = false
		d = election.Decide(election.Input{Group: withBroker(g, gone), Config: snap.Config, Trigger: trigger,
			ConnectedFor: s.hub.ConnectedFor(), Heard: s.heard.group(g.Key)})
		if d.Change {
			h = election.Apply(txn, g, d, d.Next, s.replica, s.now(), 0)
		}
	}
	if err := txn.Commit(ctx); err != nil {
		return err
	}
	if lease := snap.Lease(id); lease != 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		_ = s.store.RevokeLease(rctx, lease)
		cancel()
	}
	if d.Change {
		s.elector.Committed(ctx, g.Key, h, election.Cause{BrokerID: id, At: at})
	}
	return nil
}

// acquire returns broker id's cache entry, locked: the heartbeats of one
// broker on this replica run one at a time. Release it with release.
// There is never more than one entry for a broker while any caller holds
// or waits for one. A caller that waits for the entry until ctx ends gets
// an error instead (ErrUnavailable at a deadline): a heartbeat held up
// behind one that waits for etcd fails in time too.
func (s *Service) acquire(ctx context.Context, g ledgerless.GroupKey, id int64) (*memberEntry, error) {
	k := memberKey{g, id}
	s.mu.Lock()
	e, ok := s.members[k]
	if !ok {
		e = &memberEntry{key: k, lock: make(chan struct{}, 1)}
		s.members[k] = e
	}
	e.users++
	s.mu.Unlock()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		s.mu.Lock()
		s.unuseLocked(e)
		s.mu.Unlock()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("broker %d of %s: %w: %w", id, g, ledgerless.ErrUnavailable, ctx.Err())
		}
		return nil, fmt.Errorf("broker %d of %s: %w", id, g, ctx.Err())
	}
	s.mu.Lock()
	if e.stale {
		e.m, e.renewer, e.stale = nil, false, false
	}
	s.mu.Unlock()
	return e, nil
}

// release unlocks e; an entry that caches nothing and that nobody waits
// for is dropped.
func (s *Service) release(e *memberEntry) {
	s.mu.Lock()
	s.unuseLocked(e)
	s.mu.Unlock()
	<-e.lock
}

// unuseLocked drops one user of e, and e itself once it caches nothing
// and nobody holds or waits for it. s.mu is held.
func (s *Service) unuseLocked(e *memberEntry) {
	if e.users--; e.users == 0 && (e.m == nil || e.stale) {
		delete(s.members, e.key)
	}
}

// forget drops the cached member of broker id, after a change made
// elsewhere than in the heartbeat path. An entry in use is kept, so that
// no second one is handed out beside it, and is read afresh by its next
// user.
func (s *Service) forget(g ledgerless.GroupKey, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := memberKey{g, id}
	e, ok := s.members[k]
	switch {
	case !ok:
	case e.users == 0:
		delete(s.members, k)
	default:
		e.stale = true
	}
}
