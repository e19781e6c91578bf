package service

import (
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
)

// recorded is what a replica remembers of the heartbeat data it wrote for
// one broker, to decide whether the next heartbeat writes again.
type recorded struct {
	lease   store.LeaseID // the lease under which this replica last wrote the data; 0: never
	written stateMark     // the group's state as answered to that write
	seen    stateMark     // the group's state as answered to the latest heartbeat
}

// stateMark identifies a group's master and SyncStateSet: an election, a
// change of the SyncStateSet and a restore fence each change it.
type stateMark struct{ masterEpoch, syncStateSetEpoch int64 }

func markOf(st ledgerless.State) stateMark {
	return stateMark{masterEpoch: st.MasterEpoch, syncStateSetEpoch: st.SyncStateSetEpoch}
}

// mustRecord reports whether a heartbeat whose data advances broker b's
// recorded data to next writes it to etcd now, rather than only renewing
// the lease. It does when etcd's copy would otherwise mislead the
// election or an operator:
//
//   - the broker is newly alive (a lease this replica has not written
//     data under: a registration, a revival, a take-over of a shared
//     broker);
//   - its epoch or electionPriority changed: the first keys of the
//     election's order, and what a new epoch's master must show;
//   - its group's master or SyncStateSet changed since the last write
//     (an election, an AlterSyncStateSet, a restore fence): the data of a
//     broker that just became a candidate, or whose role changed, is
//     recorded at once;
//
// and otherwise once a third of the heartbeat timeout has passed since
// the recorded lastHeartbeat. So etcd's copy of an alive broker's data is
// never older than a third of its timeout plus one heartbeat interval
// (docs/design-heartbeats.md); maxOffset and confirmOffset lag by at most
// that much.
func mustRecord(b ledgerless.Broker, next ledgerless.HeartbeatData, rec recorded, lease store.LeaseID, now time.Time) bool {
	switch {
	case rec.lease != lease:
		return true
	case next.Epoch != b.Heartbeat.Epoch || next.ElectionPriority != b.Heartbeat.ElectionPriority:
		return true
	case rec.seen != rec.written:
		return true
	}
	return now.Sub(b.LastHeartbeat) >= b.HeartbeatTimeout/3
}

// heardBook keeps the latest heartbeat data this replica received per
// broker, for the elections it decides (election.Input.Heard).
type heardBook struct {
	mu     sync.Mutex
	groups map[ledgerless.GroupKey]map[int64]election.Heard
}

func newHeardBook() *heardBook {
	return &heardBook{groups: map[ledgerless.GroupKey]map[int64]election.Heard{}}
}

// put records that broker id of g sent d at time at, unless it moves the
// data this replica heard before backwards.
func (h *heardBook) put(g ledgerless.GroupKey, id int64, d ledgerless.HeartbeatData, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	brokers := h.groups[g]
	if brokers == nil {
		brokers = map[int64]election.Heard{}
		h.groups[g] = brokers
	}
	old, ok := brokers[id]
	if ok {
		next, forward := old.Data.Advance(d)
		if !forward {
			return
		}
		d = next
	}
	brokers[id] = election.Heard{Data: d, At: at}
}

// drop forgets broker id of g (unregistered).
func (h *heardBook) drop(g ledgerless.GroupKey, id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.groups[g], id)
	if len(h.groups[g]) == 0 {
		delete(h.groups, g)
	}
}

// group returns a copy of what was heard from g's brokers.
func (h *heardBook) group(g ledgerless.GroupKey) map[int64]election.Heard {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[int64]election.Heard, len(h.groups[g]))
	for id, x := range h.groups[g] {
		out[id] = x
	}
	return out
}
