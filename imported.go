package ledgerless

import (
	"errors"
	"fmt"
	"slices"
)

// ValidateImported checks a group that another controller (a stock
// RocketMQ controller) knew, before ledgerless takes it over: its names,
// its brokers (distinct positive ids, valid addresses and register codes),
// and the invariants ledgerless keeps for every group. The master is a
// registered broker and a member of the SyncStateSet; the SyncStateSet
// holds registered brokers only; epochs are not negative; the next broker
// id is above every registered id. Every problem found is reported.
func ValidateImported(g Group) error {
	errs := []error{g.Key.Validate()}
	st := g.State
	for i, b := range g.Brokers {
		switch {
		case b.ID <= 0:
			errs = append(errs, fmt.Errorf("%w: broker id %d is not positive", ErrInvalidRequest, b.ID))
		case i > 0 && g.Brokers[i-1].ID >= b.ID:
			errs = append(errs, fmt.Errorf("%w: broker ids must be distinct and sorted, %d follows %d", ErrInvalidRequest, b.ID, g.Brokers[i-1].ID))
		}
		if err := ValidateAddress(b.Address); err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", b.ID, err))
		}
		if err := ValidateRegisterCode(b.RegisterCode); err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", b.ID, err))
		}
		if b.ID >= st.NextBrokerID {
			errs = append(errs, fmt.Errorf("%w: broker id %d is not below the next broker id %d", ErrInvalidRequest, b.ID, st.NextBrokerID))
		}
	}
	if st.MasterEpoch < 0 || st.SyncStateSetEpoch < 0 {
		errs = append(errs, fmt.Errorf("%w: masterEpoch %d and syncStateSetEpoch %d must not be negative", ErrInvalidRequest, st.MasterEpoch, st.SyncStateSetEpoch))
	}
	if !slices.IsSorted(st.SyncStateSet) || len(slices.Compact(slices.Clone(st.SyncStateSet))) != len(st.SyncStateSet) {
		errs = append(errs, fmt.Errorf("%w: syncStateSet %v must be sorted and distinct", ErrInvalidRequest, st.SyncStateSet))
	}
	for _, id := range st.SyncStateSet {
		if _, ok := g.Broker(id); !ok {
			errs = append(errs, fmt.Errorf("%w: syncStateSet member %d is not a registered broker", ErrInvalidRequest, id))
		}
	}
	if id := st.MasterBrokerID; id != 0 {
		m, ok := g.Broker(id)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: master %d is not a registered broker", ErrInvalidRequest, id))
		case m.Address != st.MasterAddress:
			errs = append(errs, fmt.Errorf("%w: master %d is at %s, not at the master address %s", ErrInvalidRequest, id, m.Address, st.MasterAddress))
		}
		if !st.InSync(id) {
			errs = append(errs, fmt.Errorf("%w: master %d is not in the syncStateSet %v", ErrInvalidRequest, id, st.SyncStateSet))
		}
		if st.MasterEpoch == 0 {
			errs = append(errs, fmt.Errorf("%w: master %d at masterEpoch 0", ErrInvalidRequest, id))
		}
	}
	return errors.Join(errs...)
}
