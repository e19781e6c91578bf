package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/tracing"
)

// Registration is a broker's request to join a group.
type Registration struct {
	Address      string
	RegisterCode string
	BrokerID     int64         // 0: look the broker up by RegisterCode, or assign a new id
	Timeout      time.Duration // heartbeat timeout; 0: the configured default
}

// Register registers a broker, or finds its registration again by register
// code, records its address and makes it alive. A new group's first alive
// broker becomes its master in the same transaction. It returns the
// broker's id and the group as it is afterwards.
func (s *Service) Register(ctx context.Context, g ledgerless.GroupKey, r Registration) (id int64, grp *ledgerless.Group, err error) {
	ctx, span := s.span(ctx, "ledgerless.register", g, r.BrokerID)
	defer func() {
		if span.IsRecording() && id != 0 {
			span.SetAttributes(tracing.BrokerID.Int64(id))
		}
		var st ledgerless.State
		if grp != nil {
			st = grp.State
		}
		endSpan(span, st, err)
	}()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.store.ReadGroup(ctx, g)
		if err != nil {
			return 0, nil, err
		}
		b, err := registered(snap, r, s.maxBrokers)
		if err != nil {
			return 0, nil, err
		}
		b.Address = r.Address
		b.HeartbeatTimeout = r.Timeout
		if b.HeartbeatTimeout == 0 {
			b.HeartbeatTimeout = snap.Config.DefaultHeartbeatTimeout
		}
		err = s.upsert(ctx, snap, b)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		s.forget(g, b.ID)
		grp, err := s.Group(ctx, g)
		return b.ID, grp, err
	}
	return 0, nil, conflict("register")
}

// registered finds the broker r refers to, or a new one with the next id
// unless the group already has limit brokers (0: no limit).
func registered(snap *store.Snapshot, r Registration, limit int) (ledgerless.Broker, error) {
	g := &snap.Group
	if r.BrokerID != 0 {
		b, ok := g.Broker(r.BrokerID)
		if !ok {
			return ledgerless.Broker{}, fmt.Errorf("broker %d of %s: %w", r.BrokerID, g.Key, ledgerless.ErrBrokerNeedToBeRegistered)
		}
		if b.RegisterCode != r.RegisterCode {
			return ledgerless.Broker{}, fmt.Errorf("%w: broker %d of %s is registered with another registerCode", ledgerless.ErrBrokerIDInvalid, r.BrokerID, g.Key)
		}
		return *b, nil
	}
	for _, b := range g.Brokers {
		if b.RegisterCode == r.RegisterCode {
			return b, nil
		}
	}
	if limit > 0 && len(g.Brokers) >= limit {
		return ledgerless.Broker{}, fmt.Errorf("%w: %s has %d registered brokers, the most this controller accepts; remove the brokers that are gone (ledgerless clean) or raise --max-brokers-per-group",
			ledgerless.ErrTooManyBrokers, g.Key, len(g.Brokers))
	}
	return ledgerless.Broker{ID: max(g.State.NextBrokerID, 1), RegisterCode: r.RegisterCode}, nil
}

// upsert writes broker b, with its address and heartbeat timeout, and makes
// it alive, in one transaction against snap. When b's coming alive lets the
// election policy pick a master, the election is part of the same
// transaction. It returns store.ErrConflict when snap is stale. An alive
// broker whose registration is unchanged has its lease renewed instead.
func (s *Service) upsert(ctx context.Context, snap *store.Snapshot, b ledgerless.Broker) error {
	now := s.now()
	g := snap.Group
	next := g.State
	old, existed := g.Broker(b.ID)
	txn := s.store.Txn(snap)
	write := false
	if !existed {
		next.NextBrokerID = b.ID + 1
	}
	if !existed || old.Address != b.Address || old.HeartbeatTimeout != b.HeartbeatTimeout {
		txn.PutBroker(b, now)
		write = true
	}
	var lease, replaced store.LeaseID
	if !existed || !old.Alive || old.HeartbeatTimeout != b.HeartbeatTimeout {
		var err error
		if lease, err = s.store.GrantLease(ctx, b.HeartbeatTimeout); err != nil {
			return err
		}
		txn.PutAlive(b.ID, lease, b.HeartbeatTimeout, now)
		if existed && old.Alive {
			replaced = snap.Lease(b.ID)
		}
		write = true
	}
	b.Alive = true
	d := election.Decide(election.Input{Group: withBroker(g, b), Config: snap.Config, Trigger: election.Automatic,
		ConnectedFor: s.hub.ConnectedFor()})
	if d.Change {
		next = d.Next
		next.NextBrokerID = max(next.NextBrokerID, b.ID+1)
	}
	if next.MasterBrokerID == b.ID {
		next.MasterAddress = b.Address
	}
	var h ledgerless.HistoryEntry
	switch {
	case d.Change:
		var madeAlive int64 // the winner's liveness is compared unless this txn creates it
		if lease != 0 {
			madeAlive = b.ID
		}
		h = election.Apply(txn, g, d, next, s.replica, now, madeAlive)
		write = true
	case !next.Equal(g.State):
		txn.PutState(next)
		write = true
	}
	if !write {
		_, err := s.store.KeepAlive(ctx, snap.Lease(b.ID))
		if errors.Is(err, store.ErrLeaseNotFound) {
			return fmt.Errorf("renew %d: %w", b.ID, store.ErrConflict) // expired since the read
		}
		return err
	}
	if err := txn.Commit(ctx); err != nil {
		// Only a failed compare certainly wrote nothing. After an
		// ambiguous error (etcd unreachable, the deadline passed) the
		// commit may have happened and made b alive, even master: its
		// lease is left to the broker's heartbeats, or to expire.
		if lease != 0 && errors.Is(err, store.ErrConflict) {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
			_ = s.store.RevokeLease(rctx, lease)
			cancel()
		}
		return err
	}
	if replaced != 0 {
		_ = s.store.RevokeLease(ctx, replaced)
	}
	if d.Change {
		s.elector.Committed(ctx, g.Key, h)
	}
	return nil
}

// revokeTimeout bounds the revocation of a lease that a lost race left
// unused; one that fails expires at its TTL.
const revokeTimeout = 5 * time.Second

// withBroker returns g with b added or replacing the broker of its id.
func withBroker(g ledgerless.Group, b ledgerless.Broker) ledgerless.Group {
	brokers := make([]ledgerless.Broker, 0, len(g.Brokers)+1)
	added := false
	for _, x := range g.Brokers {
		switch {
		case x.ID == b.ID:
			x, added = b, true
		case x.ID > b.ID && !added:
			brokers, added = append(brokers, b), true
		}
		brokers = append(brokers, x)
	}
	if !added {
		brokers = append(brokers, b)
	}
	g.Brokers = brokers
	return g
}
