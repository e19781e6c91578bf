package service

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
)

// Elect runs an admin election in group g: of broker id, or of the best
// candidate other than the master when id is 0. It returns the group after
// the election.
func (s *Service) Elect(ctx context.Context, g ledgerless.GroupKey, id int64) (*ledgerless.Group, error) {
	if _, err := s.elector.Elect(ctx, g, election.Admin, id); err != nil {
		return nil, err
	}
	return s.Group(ctx, g)
}

// AlterSyncStateSet changes group g's SyncStateSet at its master's request,
// checked as election.CheckAlter says, and fenced by the group's revision
// and by the liveness of every member. It returns the new state.
func (s *Service) AlterSyncStateSet(ctx context.Context, g ledgerless.GroupKey, a election.Alter) (st ledgerless.State, err error) {
	ctx, span := s.span(ctx, "ledgerless.alter", g, a.MasterBrokerID)
	defer func() { endSpan(span, st, err) }()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.existing(ctx, g)
		if err != nil {
			return ledgerless.State{}, err
		}
		next, err := election.CheckAlter(snap.Group, a)
		if err != nil {
			return ledgerless.State{}, err
		}
		txn := s.store.Txn(snap).PutState(next)
		for _, id := range next.SyncStateSet {
			txn.RequireAlive(id)
		}
		if err = txn.Commit(ctx); isConflict(err) {
			continue
		}
		if err != nil {
			return ledgerless.State{}, err
		}
		s.log.InfoContext(ctx, "sync state set changed", "group", g.String(), "syncStateSet", next.SyncStateSet,
			"syncStateSetEpoch", next.SyncStateSetEpoch, "master", next.MasterBrokerID, "masterEpoch", next.MasterEpoch)
		return next, nil
	}
	return ledgerless.State{}, conflict("alter sync state set")
}

// RemoveBroker removes broker id from group g. A living broker is refused
// unless force is set; the living master is always refused (elect another
// first). A broker leaving the SyncStateSet bumps its epoch; removing a
// dead master leaves the group without one, at a new masterEpoch.
func (s *Service) RemoveBroker(ctx context.Context, g ledgerless.GroupKey, id int64, force bool) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.existing(ctx, g)
		if err != nil {
			return err
		}
		b, ok := snap.Group.Broker(id)
		if !ok {
			return fmt.Errorf("broker %d of %s: %w", id, g, ledgerless.ErrBrokerNeedToBeRegistered)
		}
		st := snap.Group.State
		switch {
		case b.Alive && st.MasterBrokerID == id:
			return fmt.Errorf("%w: broker %d is the living master of %s; elect another master first", ledgerless.ErrInvalidCleanBrokerMeta, id, g)
		case b.Alive && !force:
			return fmt.Errorf("%w: broker %d is alive; use force to remove it anyway", ledgerless.ErrInvalidCleanBrokerMeta, id)
		}
		// Decided on b's liveness and registration: a broker that came
		// alive (or re-registered) since the read is not removed on it.
		txn := s.store.Txn(snap).RequireMember(id).DeleteBroker(id)
		next := st
		if i := slices.Index(st.SyncStateSet, id); i >= 0 {
			next.SyncStateSet = slices.Delete(slices.Clone(st.SyncStateSet), i, i+1)
			next.SyncStateSetEpoch++
		}
		var h ledgerless.HistoryEntry
		if st.MasterBrokerID == id {
			next.MasterBrokerID, next.MasterAddress = 0, ""
			next.MasterEpoch++
			h = election.Apply(txn, snap.Group, election.Decision{Reason: ledgerless.ReasonAdmin}, next, s.replica, s.now(), 0)
		} else if !next.Equal(st) {
			txn.PutState(next)
		}
		if err = txn.Commit(ctx); isConflict(err) {
			continue
		}
		if err != nil {
			return err
		}
		if h.MasterEpoch != 0 {
			s.elector.Committed(ctx, g, h)
		}
		s.forget(g, id)
		s.log.InfoContext(ctx, "broker removed", "group", g.String(), "broker", id, "wasAlive", b.Alive)
		if b.Alive {
			return s.store.RevokeLease(ctx, snap.Lease(id))
		}
		return nil
	}
	return conflict("remove broker")
}

// RemoveGroup removes group g with its brokers and history. A group with a
// living broker is refused unless force is set.
func (s *Service) RemoveGroup(ctx context.Context, g ledgerless.GroupKey, force bool) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.existing(ctx, g)
		if err != nil {
			return err
		}
		var leases []store.LeaseID
		for _, b := range snap.Group.Brokers {
			if b.Alive {
				leases = append(leases, snap.Lease(b.ID))
			}
		}
		if len(leases) > 0 && !force {
			return fmt.Errorf("%w: %s has %d living brokers; use force to remove it anyway", ledgerless.ErrInvalidCleanBrokerMeta, g, len(leases))
		}
		// Decided on the brokers' liveness: none may come alive or
		// register between the read and the removal.
		if err = s.store.Txn(snap).RequireMembers().DeleteGroup().Commit(ctx); isConflict(err) {
			continue
		}
		if err != nil {
			return err
		}
		for _, b := range snap.Group.Brokers {
			s.forget(g, b.ID)
		}
		s.log.InfoContext(ctx, "group removed", "group", g.String(), "livingBrokers", len(leases))
		var errs []error
		for _, l := range leases {
			errs = append(errs, s.store.RevokeLease(ctx, l))
		}
		return errors.Join(errs...)
	}
	return conflict("remove group")
}

// History reads group g's election history, newest first: up to limit
// entries with a masterEpoch below before (0: the newest). next is the
// before value of the following page, 0 when there is none. A bad name or
// page (see HistoryPage) is ErrInvalidRequest; a group that does not
// exist, or was removed, is ErrBrokerMetadataNotExist.
func (s *Service) History(ctx context.Context, g ledgerless.GroupKey, before int64, limit int) (entries []ledgerless.HistoryEntry, next int64, err error) {
	if err := g.Validate(); err != nil {
		return nil, 0, err
	}
	if err := HistoryPage(before, limit); err != nil {
		return nil, 0, err
	}
	entries, more, err := s.store.History(ctx, g, before, limit)
	if err != nil || !more {
		return entries, 0, err
	}
	return entries, entries[len(entries)-1].MasterEpoch, nil
}

// existing reads group g, which must exist.
func (s *Service) existing(ctx context.Context, g ledgerless.GroupKey) (*store.Snapshot, error) {
	snap, err := s.store.ReadGroup(ctx, g)
	if err != nil {
		return nil, err
	}
	if !snap.Exists() {
		return nil, fmt.Errorf("group %s: %w", g, ledgerless.ErrBrokerMetadataNotExist)
	}
	return snap, nil
}
