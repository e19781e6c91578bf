package election

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Test fixtures. Every group lives at testKey, every broker's address is
// derived from its id, and every group's NextBrokerID is nextID so that a
// decision can be checked to preserve it.
var testKey = ledgerless.GroupKey{Cluster: "c1", Group: "g1"}

const (
	nextID      = 1000
	hbTimeout   = 10 * time.Second
	longConnect = time.Hour
)

func addr(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("10.0.%d.%d:10911", id/256, id%256)
}

// alive returns an alive broker with the given heartbeat epoch and maxOffset.
func alive(id, epoch, maxOffset int64) ledgerless.Broker {
	return ledgerless.Broker{
		ID:               id,
		Address:          addr(id),
		RegisterCode:     fmt.Sprintf("code-%d", id),
		HeartbeatTimeout: hbTimeout,
		Alive:            true,
		Heartbeat:        ledgerless.HeartbeatData{Epoch: epoch, MaxOffset: maxOffset},
	}
}

// dead returns a broker whose lease has expired.
func dead(id, epoch, maxOffset int64) ledgerless.Broker {
	b := alive(id, epoch, maxOffset)
	b.Alive = false
	return b
}

// prio sets b's electionPriority.
func prio(b ledgerless.Broker, p int64) ledgerless.Broker {
	b.Heartbeat.ElectionPriority = p
	return b
}

// timeout sets b's heartbeat timeout.
func timeout(b ledgerless.Broker, d time.Duration) ledgerless.Broker {
	b.HeartbeatTimeout = d
	return b
}

func set(ids ...int64) []int64 { return ids }

// grp returns the group at testKey with the given master state and brokers
// (sorted by id here); MasterAddress is the master's address.
func grp(master, masterEpoch int64, sss []int64, sssEpoch int64, brokers ...ledgerless.Broker) ledgerless.Group {
	bs := slices.Clone(brokers)
	slices.SortFunc(bs, func(a, b ledgerless.Broker) int { return cmp.Compare(a.ID, b.ID) })
	return ledgerless.Group{
		Key: testKey,
		State: ledgerless.State{
			MasterBrokerID:    master,
			MasterAddress:     addr(master),
			MasterEpoch:       masterEpoch,
			SyncStateSet:      sss,
			SyncStateSetEpoch: sssEpoch,
			NextBrokerID:      nextID,
		},
		Brokers: bs,
		Index:   42,
	}
}

type inputOpt func(*Input)

func unclean() inputOpt { return func(in *Input) { in.Config.EnableElectUncleanMaster = true } }
func pausedAll() inputOpt {
	return func(in *Input) { in.Config.Paused = true }
}
func pausedGroups(names ...string) inputOpt {
	return func(in *Input) { in.Config.PausedGroups = names }
}
func connectedFor(d time.Duration) inputOpt { return func(in *Input) { in.ConnectedFor = d } }

func input(g ledgerless.Group, t Trigger, designated int64, opts ...inputOpt) Input {
	in := Input{
		Group:        g,
		Config:       ledgerless.DefaultRuntimeConfig(),
		Trigger:      t,
		Designated:   designated,
		ConnectedFor: longConnect,
	}
	for _, o := range opts {
		o(&in)
	}
	return in
}

func auto(g ledgerless.Group, opts ...inputOpt) Input     { return input(g, Automatic, 0, opts...) }
func resigned(g ledgerless.Group, opts ...inputOpt) Input { return input(g, Resigned, 0, opts...) }
func admin(g ledgerless.Group, designated int64, opts ...inputOpt) Input {
	return input(g, Admin, designated, opts...)
}

// outcome is the expected Decision.
type outcome struct {
	change      bool
	master      int64
	masterEpoch int64
	sss         []int64
	sssEpoch    int64
	reason      string
	err         error
	retry       time.Duration
}

// elected: id becomes master at masterEpoch with SyncStateSet {id}.
func elected(id, masterEpoch, sssEpoch int64, reason string) outcome {
	return outcome{change: true, master: id, masterEpoch: masterEpoch, sss: set(id), sssEpoch: sssEpoch, reason: reason}
}

// masterless: the group is left without a master at masterEpoch.
func masterless(masterEpoch int64, sss []int64, sssEpoch int64, reason string) outcome {
	return outcome{change: true, masterEpoch: masterEpoch, sss: sss, sssEpoch: sssEpoch, reason: reason}
}

func unchanged() outcome                 { return outcome{} }
func retryAfter(d time.Duration) outcome { return outcome{retry: d} }
func refused(err error) outcome          { return outcome{err: err} }

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func ids(bs []ledgerless.Broker) []int64 {
	out := make([]int64, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

func checkDecision(t *testing.T, in Input, d Decision, want outcome) {
	t.Helper()
	if want.err != nil {
		if !errors.Is(d.Err, want.err) {
			t.Errorf("Err = %v, want errors.Is %v", d.Err, want.err)
		}
	} else if d.Err != nil {
		t.Errorf("Err = %v, want nil", d.Err)
	}
	if d.Change != want.change {
		t.Fatalf("Change = %v, want %v (decision %+v)", d.Change, want.change, d)
	}
	if d.RetryAfter != want.retry {
		t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, want.retry)
	}
	if !want.change {
		// Nothing to do: no reason is recorded and no new state is proposed
		// (Next is either left empty or the current state).
		if d.Reason != "" {
			t.Errorf("Reason = %q on no change, want empty", d.Reason)
		}
		if !d.Next.Equal(ledgerless.State{}) && !d.Next.Equal(in.Group.State) {
			t.Errorf("Next = %+v on no change, want empty or the current state", d.Next)
		}
		return
	}
	n := d.Next
	if n.MasterBrokerID != want.master {
		t.Errorf("Next.MasterBrokerID = %d, want %d", n.MasterBrokerID, want.master)
	}
	if n.MasterAddress != addr(want.master) {
		t.Errorf("Next.MasterAddress = %q, want %q", n.MasterAddress, addr(want.master))
	}
	if n.MasterEpoch != want.masterEpoch {
		t.Errorf("Next.MasterEpoch = %d, want %d", n.MasterEpoch, want.masterEpoch)
	}
	if !slices.Equal(n.SyncStateSet, want.sss) {
		t.Errorf("Next.SyncStateSet = %v, want %v", n.SyncStateSet, want.sss)
	}
	if n.SyncStateSetEpoch != want.sssEpoch {
		t.Errorf("Next.SyncStateSetEpoch = %d, want %d", n.SyncStateSetEpoch, want.sssEpoch)
	}
	if n.NextBrokerID != in.Group.State.NextBrokerID {
		t.Errorf("Next.NextBrokerID = %d, want %d (preserved)", n.NextBrokerID, in.Group.State.NextBrokerID)
	}
	if d.Reason != want.reason {
		t.Errorf("Reason = %q, want %q", d.Reason, want.reason)
	}
	if want.master != 0 {
		if !slices.Contains(n.SyncStateSet, n.MasterBrokerID) {
			t.Errorf("Next master %d is not in its SyncStateSet %v", n.MasterBrokerID, n.SyncStateSet)
		}
	}
}

const (
	rFirst    = ledgerless.ReasonFirstMaster
	rLost     = ledgerless.ReasonMasterLost
	rResigned = ledgerless.ReasonResigned
	rNoMaster = ledgerless.ReasonNoMaster
	rAdmin    = ledgerless.ReasonAdmin
)

func TestDecide(t *testing.T) {
	const big = math.MaxInt64

	tests := []struct {
		name string
		in   Input
		want outcome
	}{
		// Ordering, seen through a master-lost election: master 1 is dead at
		// masterEpoch 5, syncStateSetEpoch 7; everyone else is in sync.
		{"ordering/higher epoch wins over higher maxOffset",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 3, 1000), alive(3, 4, 0))),
			elected(3, 6, 8, rLost)},
		{"ordering/higher maxOffset wins at equal epoch",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, 10), alive(3, 4, 11))),
			elected(3, 6, 8, rLost)},
		{"ordering/higher maxOffset wins over lower electionPriority",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), prio(alive(2, 4, 10), 0), prio(alive(3, 4, 11), 9))),
			elected(3, 6, 8, rLost)},
		{"ordering/lower electionPriority wins at equal epoch and maxOffset",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), prio(alive(2, 4, 10), 2), prio(alive(3, 4, 10), 1))),
			elected(3, 6, 8, rLost)},
		{"ordering/negative electionPriority beats zero",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, 10), prio(alive(3, 4, 10), -5))),
			elected(3, 6, 8, rLost)},
		{"ordering/lower id wins when all else is equal",
			auto(grp(1, 5, set(1, 2, 3, 4), 7, dead(1, 9, 0), prio(alive(2, 4, 10), 3), prio(alive(3, 4, 10), 3), prio(alive(4, 4, 10), 3))),
			elected(2, 6, 8, rLost)},
		{"ordering/maxOffset difference of exactly 2^32 is not a tie",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, 0), alive(3, 4, 1<<32))),
			elected(3, 6, 8, rLost)},
		{"ordering/maxOffset difference of 2^31+1 does not wrap",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, 7), alive(3, 4, 7+1<<31+1))),
			elected(3, 6, 8, rLost)},
		{"ordering/maxOffset MaxInt64 against 0",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, 0), alive(3, 4, big))),
			elected(3, 6, 8, rLost)},
		{"ordering/maxOffset MaxInt64 against MaxInt64-1",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, big-1), alive(3, 4, big))),
			elected(3, 6, 8, rLost)},
		{"ordering/maxOffset MaxInt64-1 loses to MaxInt64 on a lower id",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 4, big), alive(3, 4, big-1))),
			elected(2, 6, 8, rLost)},
		{"ordering/epoch MaxInt64 against epoch 0",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 0), alive(2, 0, big), alive(3, big, 0))),
			elected(3, 6, 8, rLost)},

		// Candidates.
		{"candidates/dead in-sync slave is skipped",
			auto(grp(1, 5, set(1, 2, 3), 7, dead(1, 4, 0), dead(2, 4, 99), alive(3, 4, 1))),
			elected(3, 6, 8, rLost)},
		{"candidates/unclean off leaves out-of-sync broker out: master none",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 99), alive(3, 9, 999))),
			masterless(6, set(1, 2), 7, rLost)},
		{"candidates/unclean off, only the dead master in sync: master none",
			auto(grp(1, 5, set(1), 7, dead(1, 4, 0), alive(2, 4, 99), alive(3, 4, 98))),
			masterless(6, set(1), 7, rLost)},
		{"candidates/unclean on elects best alive out-of-sync broker",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 99), alive(3, 4, 50), alive(4, 4, 60), dead(5, 4, 70)), unclean()),
			elected(4, 6, 8, rLost)},
		{"candidates/unclean on, no alive broker at all: master none",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 99), dead(3, 4, 50)), unclean()),
			masterless(6, set(1, 2), 7, rLost)},
		{"candidates/in-sync slave wins over out-of-sync one with higher offset",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 10), alive(3, 4, 1000))),
			elected(2, 6, 8, rLost)},
		{"candidates/in-sync slave wins over out-of-sync one with higher offset, unclean on",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 10), alive(3, 5, 1000)), unclean()),
			elected(2, 6, 8, rLost)},

		// Master presence.
		{"master/alive master: no change",
			auto(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 9, 999)), unclean()),
			unchanged()},
		{"master/alive master, just connected: no change and no retry",
			auto(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 9, 999)), connectedFor(0)),
			unchanged()},
		{"master/none and no candidate: no change",
			auto(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 0), alive(3, 4, 99))),
			unchanged()},
		{"master/none and no broker alive, unclean on: no change",
			auto(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 0)), unclean()),
			unchanged()},
		{"master/none and in-sync candidate alive: elected, no-master",
			auto(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0), alive(3, 4, 99))),
			elected(2, 7, 8, rNoMaster)},
		{"master/none and in-sync candidate alive, just connected: no grace",
			auto(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), connectedFor(0)),
			elected(2, 7, 8, rNoMaster)},
		{"master/none, unclean turned on: best out-of-sync elected, no-master",
			auto(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 0), alive(3, 4, 99), alive(4, 4, 100)), unclean()),
			elected(4, 7, 8, rNoMaster)},

		// First master of a new group (masterEpoch 0).
		{"first-master/any alive broker, best one",
			auto(grp(0, 0, nil, 0, dead(1, 0, 500), alive(2, 0, 0), alive(3, 0, 10))),
			elected(3, 1, 1, rFirst)},
		{"first-master/single broker",
			auto(grp(0, 0, nil, 0, alive(1, 0, 0))),
			elected(1, 1, 1, rFirst)},
		{"first-master/even when paused globally",
			auto(grp(0, 0, nil, 0, alive(1, 0, 0)), pausedAll()),
			elected(1, 1, 1, rFirst)},
		{"first-master/even when the group is paused",
			auto(grp(0, 0, nil, 0, alive(1, 0, 0)), pausedGroups(testKey.String())),
			elected(1, 1, 1, rFirst)},
		{"first-master/even just after connecting",
			auto(grp(0, 0, nil, 0, alive(1, 0, 0)), connectedFor(0)),
			elected(1, 1, 1, rFirst)},
		{"first-master/no alive broker: no change",
			auto(grp(0, 0, nil, 0, dead(1, 0, 0), dead(2, 0, 0))),
			unchanged()},

		// Pause.
		{"paused/globally: dead master stays",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), pausedAll()),
			unchanged()},
		{"paused/group in pausedGroups: dead master stays",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), pausedGroups("c0/g0", testKey.String(), "c9/g9")),
			unchanged()},
		{"paused/another group in pausedGroups: elected",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), pausedGroups("c1/g2", "c2/g1")),
			elected(2, 6, 8, rLost)},
		{"paused/master-less group with a candidate: no change",
			auto(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), pausedAll()),
			unchanged()},
		{"paused/resignation: no automatic failover",
			resigned(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), pausedGroups(testKey.String())),
			unchanged()},
		{"paused/admin with designation still elects",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 0)), 2, pausedAll()),
			elected(2, 6, 8, rAdmin)},
		{"paused/admin without designation still elects (group paused)",
			admin(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), 0, pausedGroups(testKey.String())),
			elected(2, 6, 8, rAdmin)},

		// Grace after connecting to etcd.
		{"grace/automatic before the master's timeout: retry after the remainder",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), connectedFor(3*time.Second)),
			retryAfter(7 * time.Second)},
		{"grace/just connected: retry after the whole timeout",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), connectedFor(0)),
			retryAfter(hbTimeout)},
		{"grace/uses the dead master's own timeout",
			auto(grp(1, 5, set(1, 2), 7, timeout(dead(1, 4, 0), 30*time.Second), timeout(alive(2, 4, 0), 2*time.Second)), connectedFor(12*time.Second)),
			retryAfter(18 * time.Second)},
		{"grace/also when no candidate would be found",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 0)), connectedFor(time.Second)),
			retryAfter(9 * time.Second)},
		{"grace/connected exactly the master's timeout: elected",
			auto(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), connectedFor(hbTimeout)),
			elected(2, 6, 8, rLost)},
		{"grace/resigned ignores grace: master-resigned",
			resigned(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), connectedFor(0)),
			elected(2, 6, 8, rResigned)},
		{"grace/resigned without candidate: master none, master-resigned",
			resigned(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), dead(2, 4, 0), alive(3, 4, 0)), connectedFor(0)),
			masterless(6, set(1, 2), 7, rResigned)},
		{"grace/admin ignores grace",
			admin(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), 0, connectedFor(0)),
			elected(2, 6, 8, rAdmin)},

		// Admin elections.
		{"admin/designated alive current master: ErrMasterStillExist",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 0)), 1),
			refused(ledgerless.ErrMasterStillExist)},
		{"admin/designated unknown broker: ErrElectMasterFailed",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 0)), 9),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/designated unknown broker, unclean on: ErrElectMasterFailed",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 0)), 9, unclean()),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/designated dead in-sync broker: ErrElectMasterFailed",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), dead(2, 4, 0)), 2),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/designated dead broker, unclean on: ErrElectMasterFailed",
			admin(grp(1, 5, set(1), 7, dead(1, 4, 0), dead(2, 4, 0)), 2, unclean()),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/designated dead current master: ErrElectMasterFailed",
			admin(grp(1, 5, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), 1),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/designated alive out-of-sync broker, unclean off: ErrElectMasterFailed",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 0), alive(3, 4, 0)), 3),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/designated alive out-of-sync broker, unclean on: elected",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 99), alive(3, 4, 0)), 3, unclean()),
			elected(3, 6, 8, rAdmin)},
		{"admin/designated alive in-sync broker that is not the best: elected",
			admin(grp(1, 5, set(1, 2, 3), 7, alive(1, 4, 0), alive(2, 4, 99), alive(3, 4, 0)), 3),
			elected(3, 6, 8, rAdmin)},
		{"admin/designated in-sync broker of a master-less group: elected",
			admin(grp(0, 6, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0)), 2),
			elected(2, 7, 8, rAdmin)},
		{"admin/no designation: best alive in-sync broker other than the master",
			admin(grp(1, 5, set(1, 2, 3), 7, alive(1, 9, 999), alive(2, 4, 10), alive(3, 4, 20), alive(4, 9, 999), dead(5, 9, 999)), 0),
			elected(3, 6, 8, rAdmin)},
		{"admin/no designation, master dead: best alive in-sync broker",
			admin(grp(1, 5, set(1, 2, 3), 7, dead(1, 9, 999), alive(2, 4, 30), alive(3, 4, 20)), 0),
			elected(2, 6, 8, rAdmin)},
		{"admin/no designation, unclean on and none in sync: best alive broker",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 9, 999), dead(2, 4, 30), alive(3, 4, 20), alive(4, 4, 21)), 0, unclean()),
			elected(4, 6, 8, rAdmin)},
		{"admin/no designation, no candidate: ErrElectMasterFailed and no change",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), dead(2, 4, 0), alive(3, 4, 0)), 0),
			refused(ledgerless.ErrElectMasterFailed)},
		{"admin/no designation, only the master alive: ErrElectMasterFailed",
			admin(grp(1, 5, set(1, 2), 7, alive(1, 4, 0), dead(2, 4, 0)), 0, unclean()),
			refused(ledgerless.ErrElectMasterFailed)},

		// The winner's state.
		{"winner/SyncStateSet becomes {winner}, epochs +1, address is the winner's",
			auto(grp(3, 41, set(1, 2, 3, 5, 8), 99, alive(1, 4, 0), dead(2, 4, 0), dead(3, 4, 0), alive(5, 4, 1), alive(8, 4, 0), alive(9, 9, 9))),
			elected(5, 42, 100, rLost)},
		{"winner/large ids and epochs",
			auto(grp(900, big-1, set(900, 901), big-1, dead(900, 4, 0), alive(901, 4, 0))),
			elected(901, big, big, rLost)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.in.Group.State
			beforeSSS := slices.Clone(before.SyncStateSet)
			d := Decide(tt.in)
			checkDecision(t, tt.in, d, tt.want)
			if !slices.Equal(tt.in.Group.State.SyncStateSet, beforeSSS) {
				t.Errorf("input SyncStateSet mutated: %v, was %v", tt.in.Group.State.SyncStateSet, beforeSSS)
			}
		})
	}
}

// A winner's SyncStateSet must not share memory with the input state: the
// caller keeps the snapshot it read.
func TestDecideDoesNotAliasInput(t *testing.T) {
	g := grp(1, 5, set(1, 2, 3), 7, dead(1, 4, 0), alive(2, 4, 9), alive(3, 4, 0))
	d := Decide(auto(g))
	if !d.Change || d.Next.MasterBrokerID != 2 {
		t.Fatalf("decision %+v, want broker 2 elected", d)
	}
	d.Next.SyncStateSet[0] = 77
	if !slices.Equal(g.State.SyncStateSet, set(1, 2, 3)) {
		t.Errorf("input SyncStateSet changed through Next: %v", g.State.SyncStateSet)
	}
}

func TestReasonFor(t *testing.T) {
	tests := []struct {
		name string
		t    Trigger
		st   ledgerless.State
		want string
	}{
		{"new group", Automatic, ledgerless.State{}, rFirst},
		{"new group, resigned", Resigned, ledgerless.State{}, rFirst},
		{"lost lease", Automatic, ledgerless.State{MasterBrokerID: 1, MasterEpoch: 3}, rLost},
		{"resigned", Resigned, ledgerless.State{MasterBrokerID: 1, MasterEpoch: 3}, rResigned},
		{"master-less", Automatic, ledgerless.State{MasterEpoch: 3}, rNoMaster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReasonFor(tt.t, tt.st); got != tt.want {
				t.Errorf("ReasonFor = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	tests := []struct {
		name    string
		g       ledgerless.Group
		unclean bool
		want    []int64
	}{
		{"alive in-sync members other than the master",
			grp(1, 5, set(1, 2, 3, 4), 7, alive(1, 0, 0), alive(2, 0, 0), dead(3, 0, 0), alive(4, 0, 0), alive(5, 0, 0)),
			false, set(2, 4)},
		{"the dead master is excluded",
			grp(1, 5, set(1, 2), 7, dead(1, 0, 0), alive(2, 0, 0)),
			false, set(2)},
		{"unclean does not add out-of-sync brokers while one in sync is alive",
			grp(1, 5, set(1, 2), 7, dead(1, 0, 0), alive(2, 0, 0), alive(3, 0, 0)),
			true, set(2)},
		{"none in sync, unclean off: none",
			grp(1, 5, set(1, 2), 7, dead(1, 0, 0), dead(2, 0, 0), alive(3, 0, 0)),
			false, nil},
		{"none in sync, unclean on: every alive broker but the master",
			grp(1, 5, set(1, 2), 7, alive(1, 0, 0), dead(2, 0, 0), alive(3, 0, 0), dead(4, 0, 0), alive(5, 0, 0)),
			true, set(3, 5)},
		{"in-sync id without a registered broker is ignored",
			grp(1, 5, set(1, 2, 7), 7, dead(1, 0, 0), dead(2, 0, 0), alive(3, 0, 0)),
			false, nil},
		{"master-less group",
			grp(0, 5, set(1, 2), 7, alive(1, 0, 0), alive(2, 0, 0), alive(3, 0, 0)),
			false, set(1, 2)},
		{"no brokers",
			grp(0, 0, nil, 0),
			true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(Candidates(tt.g, tt.unclean))
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("Candidates = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	const big = math.MaxInt64
	b := func(id, epoch, off, p int64) ledgerless.Broker { return prio(alive(id, epoch, off), p) }
	tests := []struct {
		name string
		a, b ledgerless.Broker
		want int // sign of Compare(a, b): negative when a is the better master
	}{
		{"higher epoch wins", b(2, 5, 0, 9), b(1, 4, 100, 0), -1},
		{"lower epoch loses", b(1, 4, 100, 0), b(2, 5, 0, 9), 1},
		{"higher maxOffset wins at equal epoch", b(2, 5, 11, 9), b(1, 5, 10, 0), -1},
		{"lower electionPriority wins at equal epoch and offset", b(2, 5, 10, 0), b(1, 5, 10, 1), -1},
		{"negative electionPriority", b(2, 5, 10, -1), b(1, 5, 10, 0), -1},
		{"lower id wins when all else equal", b(1, 5, 10, 3), b(2, 5, 10, 3), -1},
		{"higher id loses when all else equal", b(2, 5, 10, 3), b(1, 5, 10, 3), 1},
		{"same broker", b(1, 5, 10, 3), b(1, 5, 10, 3), 0},
		{"offsets differ by 2^32", b(2, 5, 1<<32, 0), b(1, 5, 0, 0), -1},
		{"offsets differ by 2^31", b(2, 5, 1<<31, 0), b(1, 5, 0, 0), -1},
		{"offsets differ by 2^31+1", b(2, 5, 1<<31+1, 0), b(1, 5, 0, 0), -1},
		{"offsets differ by 2^32+2^31", b(1, 5, 0, 0), b(2, 5, 1<<32+1<<31, 0), 1},
		{"maxOffset MaxInt64 vs 0", b(2, 5, big, 0), b(1, 5, 0, 0), -1},
		{"maxOffset MaxInt64 vs MaxInt64-1", b(2, 5, big, 0), b(1, 5, big-1, 0), -1},
		{"maxOffset MaxInt64 vs MinInt64 (difference overflows int64)", b(2, 5, big, 0), b(1, 5, math.MinInt64, 0), -1},
		{"epoch MaxInt64 vs MinInt64", b(2, big, 0, 0), b(1, math.MinInt64, big, 0), -1},
		{"electionPriority MinInt64 vs MaxInt64", b(2, 5, 0, math.MinInt64), b(1, 5, 0, big), -1},
		{"ids MaxInt64 vs 1", b(1, 5, 0, 0), b(big, 5, 0, 0), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sign(Compare(tt.a, tt.b)); got != tt.want {
				t.Errorf("sign(Compare(a, b)) = %d, want %d", got, tt.want)
			}
			if got := sign(Compare(tt.b, tt.a)); got != -tt.want {
				t.Errorf("sign(Compare(b, a)) = %d, want %d", got, -tt.want)
			}
			w, ok := Best([]ledgerless.Broker{tt.a, tt.b})
			wantBest := tt.a
			if tt.want > 0 {
				wantBest = tt.b
			}
			if !ok || w.ID != wantBest.ID {
				t.Errorf("Best(a, b) = %d, %v; want %d", w.ID, ok, wantBest.ID)
			}
		})
	}
}

// generatedBrokers returns every combination of a few epochs, offsets and
// priorities, each twice, with distinct ids assigned in a scrambled order.
func generatedBrokers() []ledgerless.Broker {
	const big = math.MaxInt64
	epochs := []int64{0, 1, big}
	offsets := []int64{0, 1, 1 << 31, 1<<31 + 1, 1 << 32, big - 1, big}
	prios := []int64{math.MinInt64, -1, 0, 1}
	var bs []ledgerless.Broker
	for _, e := range epochs {
		for _, o := range offsets {
			for _, p := range prios {
				for range 2 {
					bs = append(bs, prio(alive(0, e, o), p))
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i, j := range r.Perm(len(bs)) {
		bs[i].ID = int64(j + 1)
	}
	bs[0].ID = math.MaxInt64 // one extreme id as well
	return bs
}

// refCompare is an independent statement of the election order.
func refCompare(a, b ledgerless.Broker) int {
	switch {
	case a.Heartbeat.Epoch > b.Heartbeat.Epoch:
		return -1
	case a.Heartbeat.Epoch < b.Heartbeat.Epoch:
		return 1
	case a.Heartbeat.MaxOffset > b.Heartbeat.MaxOffset:
		return -1
	case a.Heartbeat.MaxOffset < b.Heartbeat.MaxOffset:
		return 1
	case a.Heartbeat.ElectionPriority < b.Heartbeat.ElectionPriority:
		return -1
	case a.Heartbeat.ElectionPriority > b.Heartbeat.ElectionPriority:
		return 1
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

func TestCompareTotalOrder(t *testing.T) {
	bs := generatedBrokers()
	n := len(bs)
	c := make([][]int, n)
	for i := range bs {
		c[i] = make([]int, n)
		for j := range bs {
			c[i][j] = sign(Compare(bs[i], bs[j]))
		}
	}
	fails := 0
	report := func(format string, args ...any) {
		t.Helper()
		if fails++; fails <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i := range n {
		for j := range n {
			switch {
			case i == j && c[i][j] != 0:
				report("Compare(x, x) = %d for %+v", c[i][j], bs[i])
			case i != j && c[i][j] == 0:
				report("Compare = 0 for distinct ids %d and %d", bs[i].ID, bs[j].ID)
			case c[i][j] != -c[j][i]:
				report("not antisymmetric: Compare(%d,%d)=%d, Compare(%d,%d)=%d", bs[i].ID, bs[j].ID, c[i][j], bs[j].ID, bs[i].ID, c[j][i])
			case c[i][j] != refCompare(bs[i], bs[j]):
				report("Compare(%+v, %+v) = %d, want %d", bs[i].Heartbeat, bs[j].Heartbeat, c[i][j], refCompare(bs[i], bs[j]))
			}
		}
	}
	for i := range n {
		for j := range n {
			if c[i][j] >= 0 {
				continue
			}
			for k := range n {
				if c[j][k] < 0 && c[i][k] >= 0 {
					report("not transitive: %d < %d < %d but Compare(%d, %d) = %d", bs[i].ID, bs[j].ID, bs[k].ID, bs[i].ID, bs[k].ID, c[i][k])
				}
			}
		}
	}
	if fails > 10 {
		t.Errorf("... and %d more failures", fails-10)
	}
}

// permute calls f with every permutation of bs (Heap's algorithm).
func permute(bs []ledgerless.Broker, f func([]ledgerless.Broker)) {
	var gen func(k int)
	gen = func(k int) {
		if k <= 1 {
			f(bs)
			return
		}
		gen(k - 1)
		for i := 0; i < k-1; i++ {
			if k%2 == 0 {
				bs[i], bs[k-1] = bs[k-1], bs[i]
			} else {
				bs[0], bs[k-1] = bs[k-1], bs[0]
			}
			gen(k - 1)
		}
	}
	gen(len(bs))
}

func TestBestOrderIndependent(t *testing.T) {
	const big = math.MaxInt64
	t.Run("all permutations of near-ties", func(t *testing.T) {
		// Broker 7 wins; each other one loses to it on a single key.
		bs := []ledgerless.Broker{
			prio(alive(7, 3, big), 0),
			prio(alive(3, 3, big), 1),   // worse priority
			prio(alive(2, 3, big-1), 0), // lower offset
			prio(alive(1, 2, big), -9),  // lower epoch
			prio(alive(9, 3, big), 0),   // higher id than the winner
			prio(alive(4, 3, 0), -9),    // lower offset, better priority
		}
		count := 0
		permute(slices.Clone(bs), func(p []ledgerless.Broker) {
			count++
			w, ok := Best(p)
			if !ok || w.ID != 7 {
				t.Fatalf("Best(%v) = %d, %v; want 7", ids(p), w.ID, ok)
			}
		})
		if count != 720 {
			t.Fatalf("saw %d permutations, want 720", count)
		}
	})
	t.Run("shuffles of the generated set", func(t *testing.T) {
		bs := generatedBrokers()
		want := slices.MinFunc(bs, refCompare)
		r := rand.New(rand.NewPCG(3, 4))
		for i := range 200 {
			r.Shuffle(len(bs), func(x, y int) { bs[x], bs[y] = bs[y], bs[x] })
			w, ok := Best(bs)
			if !ok || w.ID != want.ID {
				t.Fatalf("shuffle %d: Best = %d (%+v), want %d (%+v)", i, w.ID, w.Heartbeat, want.ID, want.Heartbeat)
			}
		}
		// Also as the sort order: sorting by Compare puts the winner first.
		sorted := slices.Clone(bs)
		slices.SortFunc(sorted, Compare)
		if sorted[0].ID != want.ID {
			t.Fatalf("sorted by Compare, first is %d, want %d", sorted[0].ID, want.ID)
		}
		if !slices.IsSortedFunc(sorted, refCompare) {
			t.Fatalf("sorting by Compare does not sort by the reference order")
		}
	})
	t.Run("every subset's winner is stable under reversal", func(t *testing.T) {
		bs := generatedBrokers()
		for size := 1; size <= len(bs); size += 7 {
			sub := slices.Clone(bs[:size])
			w1, _ := Best(sub)
			slices.Reverse(sub)
			w2, _ := Best(sub)
			if w1.ID != w2.ID {
				t.Fatalf("size %d: Best = %d forwards, %d reversed", size, w1.ID, w2.ID)
			}
			if want := slices.MinFunc(sub, refCompare); w1.ID != want.ID {
				t.Fatalf("size %d: Best = %d, want %d", size, w1.ID, want.ID)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		if w, ok := Best(nil); ok {
			t.Fatalf("Best(nil) = %+v, true; want false", w)
		}
	})
}

// benchGroup returns a group of n brokers whose master (broker 1) is dead
// and all of whom are in sync.
func benchGroup(n int) ledgerless.Group {
	r := rand.New(rand.NewPCG(5, 6))
	brokers := make([]ledgerless.Broker, n)
	sss := make([]int64, n)
	for i := range n {
		id := int64(i + 1)
		brokers[i] = prio(alive(id, 7, r.Int64N(1<<40)), r.Int64N(3))
		sss[i] = id
	}
	brokers[0].Alive = false
	return grp(1, 8, sss, 12, brokers...)
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{3, 100} {
		b.Run(fmt.Sprintf("brokers=%d", n), func(b *testing.B) {
			in := auto(benchGroup(n))
			if d := Decide(in); !d.Change || d.Next.MasterBrokerID == 0 {
				b.Fatalf("decision %+v, want an election", d)
			}
			b.ReportAllocs()
			for b.Loop() {
				Decide(in)
			}
		})
	}
}
