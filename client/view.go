package client

import (
	"slices"

	"github.com/ledgerless/ledgerless"
)

// View is a group's master state as one broker sees it.
type View struct {
	Role              ledgerless.Role // the broker's own role
	MasterBrokerID    int64           // 0: no master
	MasterAddress     string
	MasterEpoch       int64
	SyncStateSet      []int64
	SyncStateSetEpoch int64
}

func (v View) clone() View {
	v.SyncStateSet = slices.Clone(v.SyncStateSet)
	return v
}

// newer reports whether v is news after cur: a higher masterEpoch, or the
// same one with a higher syncStateSetEpoch.
func (v View) newer(cur View) bool {
	return v.MasterEpoch > cur.MasterEpoch ||
		(v.MasterEpoch == cur.MasterEpoch && v.SyncStateSetEpoch > cur.SyncStateSetEpoch)
}

// state is a master state without the broker's own role.
type state struct {
	master            *int64
	address           string
	epoch             int64
	syncStateSet      []int64
	syncStateSetEpoch int64
}

func stateOfGroup(g *Group) state {
	return state{g.MasterBrokerID, g.MasterAddress, g.MasterEpoch, g.SyncStateSet, g.SyncStateSetEpoch}
}

func stateOfHeartbeat(r *heartbeatResponse) state {
	return state{r.MasterBrokerID, r.MasterAddress, r.MasterEpoch, r.SyncStateSet, r.SyncStateSetEpoch}
}

// observe takes in a master state read from the controller, from
// whichever replica and in whatever order answers arrive: it replaces the
// view only when newer, and delivers it as a role change when its
// masterEpoch went up. Before registration the broker's role cannot be
// told, so a state read then is left for the registration's own.
func (b *Broker) observe(s state) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id == 0 {
		return
	}
	v := View{Role: ledgerless.RoleSlave, MasterAddress: s.address, MasterEpoch: s.epoch,
		SyncStateSet: slices.Clone(s.syncStateSet), SyncStateSetEpoch: s.syncStateSetEpoch}
	if s.master != nil {
		v.MasterBrokerID = *s.master
		if v.MasterBrokerID == b.id {
			v.Role = ledgerless.RoleMaster
		}
	}
	if !v.newer(b.view) {
		return
	}
	epochUp := v.MasterEpoch > b.view.MasterEpoch
	b.view = v
	if !epochUp {
		return
	}
	b.log.Info("role change", "brokerId", b.id, "role", v.Role, "masterEpoch", v.MasterEpoch,
		"master", v.MasterBrokerID, "syncStateSet", v.SyncStateSet)
	// Only this method sends, under b.mu: after taking out a change the
	// receiver has not picked up, the send cannot block.
	select {
	case <-b.roles:
	default:
	}
	b.roles <- v.clone()
}
