package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
)

// The use cases below are the steps of a stock RocketMQ broker's life that
// the REST API folds into one registration: a broker first asks for the
// next id (NextBrokerID), claims it with a register code (ApplyBrokerID),
// confirms its registration (ConfirmRegistration), heartbeats, and asks
// for the first election itself (BrokerElect). They keep REST's rules: one
// id counter per group, ids never reused, a register code is a broker's
// identity.

// FindGroup finds the group of a request that names only the group
// (RocketMQ's brokerName). A name in no cluster is
// ErrBrokerMetadataNotExist; a name in two clusters cannot be told apart
// and is refused.
func (s *Service) FindGroup(ctx context.Context, name string) (ledgerless.GroupKey, error) {
	if err := ledgerless.ValidateName("group", name); err != nil {
		return ledgerless.GroupKey{}, err
	}
	keys, err := s.store.ListGroups(ctx)
	if err != nil {
		return ledgerless.GroupKey{}, err
	}
	var found []ledgerless.GroupKey
	var clusters []string
	for _, k := range keys {
		if k.Group == name {
			found = append(found, k)
			clusters = append(clusters, k.Cluster)
		}
	}
	switch len(found) {
	case 0:
		return ledgerless.GroupKey{}, fmt.Errorf("group %s: %w", name, ledgerless.ErrBrokerMetadataNotExist)
	case 1:
		return found[0], nil
	}
	return ledgerless.GroupKey{}, fmt.Errorf("%w: brokerName %s is a group of clusters %s; a request that names no cluster cannot tell them apart, rename one of the groups",
		ledgerless.ErrInvalidRequest, name, strings.Join(clusters, " and "))
}

// NextBrokerID returns the id the next new broker of group g gets: 1 for
// a group that does not exist yet.
func (s *Service) NextBrokerID(ctx context.Context, g ledgerless.GroupKey) (int64, error) {
	snap, err := s.store.ReadGroup(ctx, g)
	if err != nil {
		return 0, err
	}
	// A removed group's state keeps its counter: ids are never reused.
	return max(snap.Group.State.NextBrokerID, 1), nil
}

// ApplyBrokerID registers broker id of group g under registerCode, at
// address, without making it alive: the id must be the group's next id,
// or already be the broker's under the same register code. Anything else
// is ErrBrokerIDInvalid. A new group is created with it.
func (s *Service) ApplyBrokerID(ctx context.Context, g ledgerless.GroupKey, id int64, registerCode, address string) error {
	if err := errors.Join(g.Validate(), BrokerID(id), ledgerless.ValidateRegisterCode(registerCode), ledgerless.ValidateAddress(address)); err != nil {
		return err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.store.ReadGroup(ctx, g)
		if err != nil {
			return err
		}
		grp := &snap.Group
		if b, ok := grp.Broker(id); ok {
			if b.RegisterCode != registerCode {
				return fmt.Errorf("%w: broker %d of %s is registered with another registerCode", ledgerless.ErrBrokerIDInvalid, id, g)
			}
			return nil
		}
		next := grp.State
		want := max(next.NextBrokerID, 1)
		if id != want {
			return fmt.Errorf("%w: broker id %d of %s is not the next id %d; ask for the next id again", ledgerless.ErrBrokerIDInvalid, id, g, want)
		}
		if s.maxBrokers > 0 && len(grp.Brokers) >= s.maxBrokers {
			return fmt.Errorf("%w: %s has %d registered brokers, the most this controller accepts", ledgerless.ErrTooManyBrokers, g, len(grp.Brokers))
		}
		next.NextBrokerID = id + 1
		b := ledgerless.Broker{ID: id, Address: address, RegisterCode: registerCode, HeartbeatTimeout: snap.Config.DefaultHeartbeatTimeout}
		err = s.store.Txn(snap).PutBroker(b, s.now()).PutState(next).Commit(ctx)
		if isConflict(err) {
			continue
		}
		if err != nil {
			return err
		}
		s.log.InfoContext(ctx, "broker id applied", "group", g.String(), "broker", id, "address", address)
		return nil
	}
	return conflict("apply broker id")
}

// ConfirmRegistration confirms that broker id of group g is registered,
// and records its address when it changed. It returns the group.
func (s *Service) ConfirmRegistration(ctx context.Context, g ledgerless.GroupKey, id int64, address string) (*ledgerless.Group, error) {
	if err := errors.Join(g.Validate(), ledgerless.ValidateAddress(address)); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.store.ReadGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		if !snap.Exists() {
			return nil, fmt.Errorf("group %s has no registered broker: %w", g, ledgerless.ErrBrokerNeedToBeRegistered)
		}
		b, ok := snap.Group.Broker(id)
		if !ok {
			return nil, fmt.Errorf("broker %d of %s: %w", id, g, ledgerless.ErrBrokerNeedToBeRegistered)
		}
		if b.Address == address {
			return s.Group(ctx, g)
		}
		nb := *b
		nb.Address = address
		txn := s.store.Txn(snap).PutBroker(nb, s.now())
		if snap.Group.State.MasterBrokerID == id {
			next := snap.Group.State
			next.MasterAddress = address
			txn.PutState(next)
		}
		if err = txn.Commit(ctx); isConflict(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.forget(g, id)
		s.log.InfoContext(ctx, "broker address changed", "group", g.String(), "broker", id, "address", address, "was", b.Address)
		return s.Group(ctx, g)
	}
	return nil, conflict("confirm registration")
}

// BrokerElect is a broker's own request for an election in its group
// (RocketMQ's broker trigger). A group that never had a master elects the
// best alive broker; when the asking broker is not alive yet, its request
// is its proof of life: it is made alive, and so elected, in one
// transaction. A group whose master is alive keeps it: the answer is
// ErrMasterStillExist, with the group. Otherwise the automatic election
// runs; finding nobody to elect is ErrElectMasterFailed.
func (s *Service) BrokerElect(ctx context.Context, g ledgerless.GroupKey, id int64) (*ledgerless.Group, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := s.store.ReadGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		if !snap.Exists() {
			return nil, fmt.Errorf("group %s: %w", g, ledgerless.ErrBrokerNeedToBeRegistered)
		}
		grp := &snap.Group
		if m, ok := grp.Master(); ok && m.Alive {
			before, err := s.Group(ctx, g)
			if err != nil {
				return nil, err
			}
			return before, fmt.Errorf("%w: broker %d is the alive master of %s", ledgerless.ErrMasterStillExist, m.ID, g)
		}
		if b, ok := grp.Broker(id); ok && !b.Alive && grp.State.NeverElected() {
			err := s.upsert(ctx, snap, *b)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, err
			}
			s.forget(g, id)
		} else if _, err := s.elector.Elect(ctx, g, election.Automatic, 0); err != nil {
			return nil, err
		}
		after, err := s.Group(ctx, g)
		if err != nil {
			return nil, err
		}
		if m, ok := after.Master(); ok && m.Alive {
			return after, nil
		}
		return nil, fmt.Errorf("%w: no alive broker of %s can become master", ledgerless.ErrElectMasterFailed, g)
	}
	return nil, conflict("broker elect")
}
