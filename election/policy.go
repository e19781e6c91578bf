// Package election decides and commits master elections. The policy is a
// pure function of a group's state, its brokers' liveness and heartbeat
// data, and the runtime configuration; the Elector reads a group, decides,
// and writes the decision in one epoch-bumping transaction that compares
// the group's revision, so that however many replicas try, one wins.
package election

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Trigger says why an election is considered.
type Trigger int

const (
	// Automatic: a replica noticed a lost lease or reconciles.
	Automatic Trigger = iota
	// Resigned: the master resigned through this replica; no grace applies.
	Resigned
	// Admin: an operator asked, optionally naming the new master.
	Admin
	// Crashed: this replica confirmed that the master's process is gone
	// (see service.Hold); no grace applies.
	Crashed
)

// Input is everything a decision depends on.
type Input struct {
	Group      ledgerless.Group
	Config     ledgerless.RuntimeConfig
	Trigger    Trigger
	Designated int64 // Admin only: the broker to elect; 0 lets the policy choose
	// ConnectedFor is how long this replica has been connected to etcd
	// without interruption. A master whose lease expired while no replica
	// could hear its heartbeats is not deposed before this reaches the
	// master's heartbeat timeout.
	ConnectedFor time.Duration
	// Heard is the heartbeat data this replica received per broker id,
	// which may be newer than etcd's copy in Group (see Heard): the
	// candidates are ranked by the freshest of the two. nil: etcd's only.
	Heard map[int64]Heard
}

// Decision is the outcome of Decide. Change false with a nil Err means
// nothing is to be done (RetryAfter > 0: look again then).
type Decision struct {
	Change     bool
	Next       ledgerless.State
	Reason     string
	Err        error // Admin only: why the election was refused
	RetryAfter time.Duration
}

// Decide applies the election rules to in.
func Decide(in Input) Decision {
	in.Group = freshest(in.Group, in.Heard)
	g, st := in.Group, in.Group.State
	master, hasMaster := g.Master()
	masterAlive := hasMaster && master.Alive

	if in.Trigger == Admin {
		return decideAdmin(in, masterAlive)
	}
	if masterAlive {
		return Decision{}
	}
	if !st.NeverElected() && in.Config.GroupPaused(g.Key) {
		return Decision{}
	}
	if st.Restored {
		return decideRestored(in)
	}
	reason := ReasonFor(in.Trigger, st)
	if hasMaster && in.Trigger == Automatic && in.ConnectedFor < master.HeartbeatTimeout {
		return Decision{RetryAfter: master.HeartbeatTimeout - in.ConnectedFor}
	}
	if w, ok := Best(Candidates(g, in.Config.EnableElectUncleanMaster || st.NeverElected())); ok {
		return Decision{Change: true, Next: elect(st, w, g.Brokers), Reason: reason}
	}
	if st.MasterBrokerID == 0 {
		return Decision{} // already master-less; elect when a candidate appears
	}
	next := st
	next.MasterBrokerID, next.MasterAddress = 0, ""
	next.MasterEpoch++
	return Decision{Change: true, Next: next, Reason: reason}
}

// Electable says whether an automatic election could change the state st
// of group key, whose master is none or not alive, given the ids of its
// alive brokers and the configuration. It is the reconcile's filter:
// paused groups, and master-less ones without a broker that could be
// elected, cost it no read of their own. It errs on the side of true
// (Decide has the last word): a dead master is always looked at, to be
// replaced or fenced; a master-less group is when a broker is alive that
// Decide might pick (a SyncStateSet member, any broker when unclean
// elections are on or the group never had a master, any reporting broker
// of a restored group).
func Electable(key ledgerless.GroupKey, st ledgerless.State, alive []int64, cfg ledgerless.RuntimeConfig) bool {
	switch {
	case !st.NeverElected() && cfg.GroupPaused(key):
		return false
	case st.MasterBrokerID != 0:
		return true
	case len(alive) == 0:
		return false
	case st.Restored || st.NeverElected() || cfg.EnableElectUncleanMaster:
		return true
	}
	return slices.ContainsFunc(alive, st.InSync)
}

// ReasonFor names the reason recorded for an automatic or resigned change.
func ReasonFor(t Trigger, st ledgerless.State) string {
	switch {
	case st.NeverElected():
		return ledgerless.ReasonFirstMaster
	case t == Resigned:
		return ledgerless.ReasonResigned
	case t == Crashed && st.MasterBrokerID != 0:
		return ledgerless.ReasonCrashed
	case st.MasterBrokerID == 0:
		return ledgerless.ReasonNoMaster
	}
	return ledgerless.ReasonMasterLost
}

// decideRestored decides for a group that a restore fenced. The restore
// raised its epochs past what its brokers can know and left it without a
// master, but its SyncStateSet and its brokers' data are as old as the
// snapshot, so they are not trusted: a broker is a candidate only once it
// reported (heartbeat data recorded since the restore), and the election
// waits until every registered broker reported, or until this replica has
// been connected to etcd for the longest heartbeat timeout among them,
// within which every broker that is alive reports. The best reporting
// broker wins whatever the old SyncStateSet says: the highest epoch and
// offset is the broker that has every acknowledged message.
func decideRestored(in Input) Decision {
	var reported []ledgerless.Broker
	var longest time.Duration
	for _, b := range in.Group.Brokers {
		longest = max(longest, b.HeartbeatTimeout)
		if b.Alive && !b.LastHeartbeat.IsZero() {
			reported = append(reported, b)
		}
	}
	if len(reported) < len(in.Group.Brokers) && in.ConnectedFor < longest {
		return Decision{RetryAfter: longest - in.ConnectedFor}
	}
	w, ok := Best(reported)
	if !ok {
		return Decision{} // elect when a broker reports
	}
	return Decision{Change: true, Next: elect(in.Group.State, w, in.Group.Brokers), Reason: ledgerless.ReasonNoMaster}
}

func decideAdmin(in Input, masterAlive bool) Decision {
	g, st := in.Group, in.Group.State
	// A restored group's SyncStateSet is as old as the snapshot: an
	// operator may pick any alive broker.
	unclean := in.Config.EnableElectUncleanMaster || st.NeverElected() || st.Restored
	if in.Designated != 0 {
		if in.Designated == st.MasterBrokerID && masterAlive {
			return Decision{Err: fmt.Errorf("%w: broker %d is already master of %s", ledgerless.ErrMasterStillExist, in.Designated, g.Key)}
		}
		b, ok := g.Broker(in.Designated)
		switch {
		case !ok:
			return Decision{Err: fmt.Errorf("%w: broker %d is not registered in %s", ledgerless.ErrElectMasterFailed, in.Designated, g.Key)}
		case !b.Alive:
			return Decision{Err: fmt.Errorf("%w: broker %d is not alive", ledgerless.ErrElectMasterFailed, b.ID)}
		case !st.InSync(b.ID) && !unclean:
			return Decision{Err: fmt.Errorf("%w: broker %d is not in the SyncStateSet and enableElectUncleanMaster is off", ledgerless.ErrElectMasterFailed, b.ID)}
		}
		return Decision{Change: true, Next: elect(st, *b, g.Brokers), Reason: ledgerless.ReasonAdmin}
	}
	w, ok := Best(Candidates(g, unclean))
	if !ok {
		return Decision{Err: fmt.Errorf("%w: no alive candidate in %s other than the master", ledgerless.ErrElectMasterFailed, g.Key)}
	}
	return Decision{Change: true, Next: elect(st, w, g.Brokers), Reason: ledgerless.ReasonAdmin}
}

// Candidates returns the brokers that may become master: the alive members
// of the SyncStateSet other than the current master, or, when there are none
// and unclean is set, every alive broker other than the current master.
func Candidates(g ledgerless.Group, unclean bool) []ledgerless.Broker {
	var inSync, any []ledgerless.Broker
	for _, b := range g.Brokers {
		if !b.Alive || b.ID == g.State.MasterBrokerID {
			continue
		}
		any = append(any, b)
		if g.State.InSync(b.ID) {
			inSync = append(inSync, b)
		}
	}
	if len(inSync) > 0 || !unclean {
		return inSync
	}
	return any
}

// Best returns the best candidate: highest epoch, then highest maxOffset,
// then lowest electionPriority, then lowest brokerId.
func Best(candidates []ledgerless.Broker) (ledgerless.Broker, bool) {
	if len(candidates) == 0 {
		return ledgerless.Broker{}, false
	}
	best := candidates[0]
	for _, b := range candidates[1:] {
		if Compare(b, best) < 0 {
			best = b
		}
	}
	return best, true
}

// Compare orders brokers by election preference: negative when a is the
// better master. It is a total order on distinct broker ids.
func Compare(a, b ledgerless.Broker) int {
	if c := cmp.Compare(b.Heartbeat.Epoch, a.Heartbeat.Epoch); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Heartbeat.MaxOffset, a.Heartbeat.MaxOffset); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Heartbeat.ElectionPriority, b.Heartbeat.ElectionPriority); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// elect returns st with w as the new master. In a group a restore
// fenced, whose state may be older than its brokers, the new masterEpoch
// is also above every epoch its brokers reported, so that no broker sees
// a master at an epoch it already knows; the fence is cleared.
func elect(st ledgerless.State, w ledgerless.Broker, brokers []ledgerless.Broker) ledgerless.State {
	epoch := st.MasterEpoch
	for _, b := range brokers {
		if st.Restored && b.Heartbeat.Epoch < math.MaxInt64 {
			epoch = max(epoch, b.Heartbeat.Epoch)
		}
	}
	st.MasterBrokerID, st.MasterAddress = w.ID, w.Address
	st.MasterEpoch = epoch + 1
	st.SyncStateSet = []int64{w.ID}
	st.SyncStateSetEpoch++
	st.Restored = false
	return st
}
