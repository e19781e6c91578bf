package election

import (
	"fmt"
	"slices"

	"github.com/ledgerless/ledgerless"
)

// Alter is a master's request to change its group's SyncStateSet.
type Alter struct {
	MasterBrokerID    int64
	MasterEpoch       int64
	SyncStateSet      []int64 // sorted, no duplicates
	SyncStateSetEpoch int64
}

// CheckAlter applies RocketMQ's checks, in RocketMQ's order, to a
// SyncStateSet change of group g and returns the resulting state.
func CheckAlter(g ledgerless.Group, a Alter) (ledgerless.State, error) {
	st := g.State
	fail := func(err error, format string, args ...any) (ledgerless.State, error) {
		return st, fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	}
	switch {
	case slices.Equal(a.SyncStateSet, st.SyncStateSet):
		return fail(ledgerless.ErrAlterSyncStateSetFailed, "the SyncStateSet of %s is already %v", g.Key, st.SyncStateSet)
	case st.MasterBrokerID == 0 || a.MasterBrokerID != st.MasterBrokerID:
		return fail(ledgerless.ErrInvalidMaster, "broker %d is not the master of %s (master: %d)", a.MasterBrokerID, g.Key, st.MasterBrokerID)
	case a.MasterEpoch != st.MasterEpoch:
		return fail(ledgerless.ErrFencedMasterEpoch, "masterEpoch %d, current %d", a.MasterEpoch, st.MasterEpoch)
	case a.SyncStateSetEpoch != st.SyncStateSetEpoch:
		return fail(ledgerless.ErrFencedSyncStateSetEpoch, "syncStateSetEpoch %d, current %d", a.SyncStateSetEpoch, st.SyncStateSetEpoch)
	}
	for _, id := range a.SyncStateSet {
		b, ok := g.Broker(id)
		if !ok {
			return fail(ledgerless.ErrInvalidReplicas, "broker %d is not registered in %s", id, g.Key)
		}
		if !b.Alive {
			return fail(ledgerless.ErrBrokerNotAlive, "broker %d is not alive", id)
		}
	}
	if !slices.Contains(a.SyncStateSet, st.MasterBrokerID) {
		return fail(ledgerless.ErrAlterSyncStateSetFailed, "the SyncStateSet must contain the master %d", st.MasterBrokerID)
	}
	st.SyncStateSet = slices.Clone(a.SyncStateSet)
	st.SyncStateSetEpoch++
	return st, nil
}
