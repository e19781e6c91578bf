package service_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// threeReplicas starts three replicas on one prefix, connected long enough
// that the grace period does not delay elections of brokers with timeout.
func threeReplicas(t *testing.T, timeout time.Duration) []*replica {
	prefix := storetest.Prefix(t)
	rs := []*replica{startReplica(t, prefix, "r1"), startReplica(t, prefix, "r2"), startReplica(t, prefix, "r3")}
	connected(t, timeout, rs...)
	return rs
}

// pair sets up group g with master 1 and in-sync slave 2, both with the
// given heartbeat timeout, and returns the replica used.
func pair(t *testing.T, r *replica, g ledgerless.GroupKey, timeout time.Duration) {
	register(t, r, g, "m", timeout)
	register(t, r, g, "s", timeout)
	inSync(t, r, g, 1, 2)
}

// assertOneFailover checks that g went from master 1 to master 2 in exactly
// one epoch bump, recorded once.
func assertOneFailover(t *testing.T, r *replica, g ledgerless.GroupKey, reason string) {
	t.Helper()
	st := group(t, r, g).State
	if st.MasterBrokerID != 2 || st.MasterEpoch != 2 || st.SyncStateSetEpoch != 3 || fmt.Sprint(st.SyncStateSet) != "[2]" {
		t.Errorf("%s: state after failover %+v", g, st)
	}
	h := history(t, r, g)
	if len(h) != 2 || h[0].MasterEpoch != 2 || h[0].OldMasterBrokerID != 1 || h[0].NewMasterBrokerID != 2 || h[0].Reason != reason {
		t.Errorf("%s: history %+v", g, h)
	}
}

func TestMasterLeaseRevokedFailsOverExactlyOnce(t *testing.T) {
	rs := threeReplicas(t, ledgerless.DefaultHeartbeatTimeout)
	const groups = 50
	for i := range groups {
		pair(t, rs[i%3], key(fmt.Sprintf("g%d", i)), 0)
	}
	for i := range groups {
		kill(t, rs[0], key(fmt.Sprintf("g%d", i)), 1)
	}
	for i := range groups {
		g := key(fmt.Sprintf("g%d", i))
		eventually(t, 10*time.Second, func() bool { return group(t, rs[1], g).State.MasterBrokerID == 2 })
	}
	time.Sleep(time.Second) // let every replica's reconcile run once more
	for i := range groups {
		assertOneFailover(t, rs[2], key(fmt.Sprintf("g%d", i)), ledgerless.ReasonMasterLost)
	}
}

func TestMasterLeaseExpiryFailsOverExactlyOnce(t *testing.T) {
	const ttl = 2 * time.Second
	rs := threeReplicas(t, ttl)
	const groups = 50
	// Slaves keep heartbeating through all replicas from their group's
	// start (pairing every group may take longer than a lease); masters
	// fall silent.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := range groups {
		pair(t, rs[i%3], key(fmt.Sprintf("g%d", i)), ttl)
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(400 * time.Millisecond):
				}
				heartbeat(t, rs[(i+n)%3], key(fmt.Sprintf("g%d", i)), 2, ledgerless.HeartbeatData{})
			}
		})
	}
	for i := range groups {
		g := key(fmt.Sprintf("g%d", i))
		eventually(t, 15*time.Second, func() bool { return group(t, rs[1], g).State.MasterBrokerID == 2 })
	}
	time.Sleep(time.Second)
	for i := range groups {
		assertOneFailover(t, rs[2], key(fmt.Sprintf("g%d", i)), ledgerless.ReasonMasterLost)
	}
}

func TestResignedMasterIsReplacedAtOnce(t *testing.T) {
	rs := threeReplicas(t, 0)
	g := key("g")
	pair(t, rs[0], g, 0)
	if err := rs[1].Resign(ctxT(t), g, 1); err != nil {
		t.Fatal(err)
	}
	// No waiting: the resigning replica elected before answering.
	assertOneFailover(t, rs[2], g, ledgerless.ReasonResigned)
	if h := history(t, rs[0], g); h[0].Replica != "r2" {
		t.Fatalf("election made by %q, want the resigning replica r2", h[0].Replica)
	}
}

func TestInSyncSlaveWinsOverHigherOffset(t *testing.T) {
	r := threeReplicas(t, ledgerless.DefaultHeartbeatTimeout)[0]
	g := key("g")
	register(t, r, g, "m", 0)
	register(t, r, g, "in", 0)
	register(t, r, g, "out", 0)
	inSync(t, r, g, 1, 2)
	heartbeat(t, r, g, 2, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 10})
	heartbeat(t, r, g, 3, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 1 << 40})
	kill(t, r, g, 1)
	eventually(t, 10*time.Second, func() bool { return group(t, r, g).State.MasterEpoch == 2 })
	if st := group(t, r, g).State; st.MasterBrokerID != 2 {
		t.Fatalf("elected %d, want the in-sync broker 2", st.MasterBrokerID)
	}
}

func TestUncleanElection(t *testing.T) {
	r := threeReplicas(t, ledgerless.DefaultHeartbeatTimeout)[0]
	g := key("g")
	register(t, r, g, "m", 0)
	register(t, r, g, "out", 0)
	kill(t, r, g, 1)
	// Off: nobody in sync is alive, so the group is left without a master.
	eventually(t, 10*time.Second, func() bool { return group(t, r, g).State.MasterEpoch == 2 })
	st := group(t, r, g).State
	if st.MasterBrokerID != 0 || fmt.Sprint(st.SyncStateSet) != "[1]" || st.SyncStateSetEpoch != 1 {
		t.Fatalf("without unclean election: %+v", st)
	}
	// On: the reconcile elects the out-of-sync broker.
	if _, err := r.PatchConfig(ctxT(t), func(c *ledgerless.RuntimeConfig) error { c.EnableElectUncleanMaster = true; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return group(t, r, g).State.MasterEpoch == 3 })
	if st := group(t, r, g).State; st.MasterBrokerID != 2 || fmt.Sprint(st.SyncStateSet) != "[2]" {
		t.Fatalf("with unclean election: %+v", st)
	}
	if h := history(t, r, g); len(h) != 3 || h[0].Reason != ledgerless.ReasonNoMaster {
		t.Fatalf("history %+v", h)
	}
}

func TestMasterlessGroupElectsWhenInSyncBrokerComesAlive(t *testing.T) {
	r := threeReplicas(t, ledgerless.DefaultHeartbeatTimeout)[0]
	g := key("g")
	pair(t, r, g, 0)
	kill(t, r, g, 2)
	kill(t, r, g, 1)
	eventually(t, 10*time.Second, func() bool { return group(t, r, g).State.MasterEpoch == 2 })
	if st := group(t, r, g).State; st.MasterBrokerID != 0 {
		t.Fatalf("want no master, got %+v", st)
	}
	st := heartbeat(t, r, g, 2, ledgerless.HeartbeatData{})
	if st.MasterBrokerID != 2 || st.MasterEpoch != 3 {
		t.Fatalf("the in-sync broker's first heartbeat got %+v; want it elected at epoch 3", st)
	}
}

func TestPauseStopsAutomaticElections(t *testing.T) {
	r := threeReplicas(t, ledgerless.DefaultHeartbeatTimeout)[0]
	paused, other := key("paused"), key("other")
	pair(t, r, paused, 0)
	pair(t, r, other, 0)
	if _, err := r.PatchConfig(ctxT(t), func(c *ledgerless.RuntimeConfig) error {
		c.PausedGroups = []string{paused.String()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !group(t, r, paused).Paused || group(t, r, other).Paused {
		t.Fatal("paused flags wrong")
	}
	kill(t, r, paused, 1)
	kill(t, r, other, 1)
	eventually(t, 10*time.Second, func() bool { return group(t, r, other).State.MasterBrokerID == 2 })
	time.Sleep(time.Second) // several reconcile periods
	if st := group(t, r, paused).State; st.MasterBrokerID != 1 || st.MasterEpoch != 1 {
		t.Fatalf("paused group changed: %+v", st)
	}
	// Admin elections still work while paused.
	if _, err := r.Elect(ctxT(t), paused, 2); err != nil {
		t.Fatal(err)
	}
	if st := group(t, r, paused).State; st.MasterBrokerID != 2 || st.MasterEpoch != 2 {
		t.Fatalf("admin election while paused: %+v", st)
	}
	// A new group still gets its first master.
	register(t, r, key("new"), "a", 0)
	if st := group(t, r, key("new")).State; st.MasterBrokerID != 1 {
		t.Fatalf("new group while paused: %+v", st)
	}
}

func TestRestartedReplicaWaitsOutTheGrace(t *testing.T) {
	const ttl = 3 * time.Second
	prefix := storetest.Prefix(t)
	r := startReplica(t, prefix, "r1")
	g := key("g")
	pair(t, r, g, ttl)
	r.stop()
	// The master's lease runs out while no replica runs (so no watch can
	// see it go, as kill waits for).
	snap, err := r.store.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.RevokeLease(ctxT(t), snap.Lease(1)); err != nil {
		t.Fatal(err)
	}
	r2 := startReplica(t, prefix, "r2")
	started := time.Now()
	eventually(t, 15*time.Second, func() bool { return group(t, r2, g).State.MasterEpoch == 2 })
	if d := time.Since(started); d < ttl-500*time.Millisecond {
		t.Fatalf("elected %s after the replica started; the grace is %s", d, ttl)
	}
}

func TestAllReplicasDownChangesNoRole(t *testing.T) {
	const ttl = 2 * time.Second
	prefix := storetest.Prefix(t)
	rs := []*replica{startReplica(t, prefix, "r1"), startReplica(t, prefix, "r2"), startReplica(t, prefix, "r3")}
	g := key("g")
	pair(t, rs[0], g, ttl)
	before := group(t, rs[0], g).State

	// Brokers heartbeat every 500 ms to whichever replica answers.
	var mu sync.Mutex
	live := rs
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, id := range []int64{1, 2} {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(500 * time.Millisecond):
				}
				mu.Lock()
				rr := live
				mu.Unlock()
				for _, r := range rr {
					if _, err := r.Heartbeat(ctxT(t), g, id, service.Beat{}); err == nil {
						break
					}
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	time.Sleep(time.Second)
	for _, r := range rs {
		r.stop()
	}
	mu.Lock()
	live = nil
	mu.Unlock()
	time.Sleep(3 * ttl) // every lease expires
	mu.Lock()
	live = []*replica{startReplica(t, prefix, "r1b"), startReplica(t, prefix, "r2b"), startReplica(t, prefix, "r3b")}
	rs = live
	mu.Unlock()
	// Both brokers come back within the grace; nothing may change.
	eventually(t, 10*time.Second, func() bool {
		grp := group(t, rs[0], g)
		m, _ := grp.Broker(1)
		s, _ := grp.Broker(2)
		return m.Alive && s.Alive
	})
	time.Sleep(2 * ttl)
	after := group(t, rs[1], g).State
	if !after.Equal(before) {
		t.Fatalf("roles changed while the controller was down:\nbefore %+v\nafter  %+v", before, after)
	}
	if h := history(t, rs[2], g); len(h) != 1 {
		t.Fatalf("history %+v", h)
	}
}

func TestAlterSyncStateSetChecks(t *testing.T) {
	r := threeReplicas(t, 0)[0]
	g := key("g")
	register(t, r, g, "m", 0)
	register(t, r, g, "s", 0)
	register(t, r, g, "dead", 0)
	kill(t, r, g, 3)
	ok := election.Alter{MasterBrokerID: 1, MasterEpoch: 1, SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 1}
	with := func(f func(*election.Alter)) election.Alter { a := ok; f(&a); return a }
	for _, tc := range []struct {
		name string
		g    ledgerless.GroupKey
		a    election.Alter
		want error
	}{
		{"unknown group", key("nope"), ok, ledgerless.ErrBrokerMetadataNotExist},
		{"same set", g, with(func(a *election.Alter) { a.SyncStateSet = []int64{1} }), ledgerless.ErrAlterSyncStateSetFailed},
		{"wrong master", g, with(func(a *election.Alter) { a.MasterBrokerID = 2 }), ledgerless.ErrInvalidMaster},
		{"stale master epoch", g, with(func(a *election.Alter) { a.MasterEpoch = 0 }), ledgerless.ErrFencedMasterEpoch},
		{"stale set epoch", g, with(func(a *election.Alter) { a.SyncStateSetEpoch = 0 }), ledgerless.ErrFencedSyncStateSetEpoch},
		{"unregistered member", g, with(func(a *election.Alter) { a.SyncStateSet = []int64{1, 9} }), ledgerless.ErrInvalidReplicas},
		{"dead member", g, with(func(a *election.Alter) { a.SyncStateSet = []int64{1, 3} }), ledgerless.ErrBrokerNotAlive},
		{"without master", g, with(func(a *election.Alter) { a.SyncStateSet = []int64{2} }), ledgerless.ErrAlterSyncStateSetFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := group(t, r, g)
			if _, err := r.AlterSyncStateSet(ctxT(t), tc.g, tc.a); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if after := group(t, r, g); after.Index != before.Index || !after.State.Equal(before.State) {
				t.Fatal("a refused change changed the group")
			}
		})
	}
	st, err := r.AlterSyncStateSet(ctxT(t), g, ok)
	if err != nil || fmt.Sprint(st.SyncStateSet) != "[1 2]" || st.SyncStateSetEpoch != 2 {
		t.Fatalf("valid change: %+v %v", st, err)
	}
	if _, err := r.AlterSyncStateSet(ctxT(t), g, with(func(a *election.Alter) { a.SyncStateSet = []int64{1} })); !errors.Is(err, ledgerless.ErrFencedSyncStateSetEpoch) {
		t.Fatalf("replaying the old epoch: %v", err)
	}
}

func TestAdminElectionAndClean(t *testing.T) {
	r := threeReplicas(t, 0)[0]
	g := key("g")
	pair(t, r, g, 0)
	register(t, r, g, "out", 0)
	for _, tc := range []struct {
		id   int64
		want error
	}{{1, ledgerless.ErrMasterStillExist}, {3, ledgerless.ErrElectMasterFailed}, {9, ledgerless.ErrElectMasterFailed}} {
		if _, err := r.Elect(ctxT(t), g, tc.id); !errors.Is(err, tc.want) {
			t.Fatalf("elect %d: %v, want %v", tc.id, err, tc.want)
		}
	}
	grp, err := r.Elect(ctxT(t), g, 0)
	if err != nil || grp.State.MasterBrokerID != 2 || grp.State.MasterEpoch != 2 {
		t.Fatalf("switchover: %+v %v", grp, err)
	}
	if err := r.RemoveBroker(ctxT(t), g, 2, true); !errors.Is(err, ledgerless.ErrInvalidCleanBrokerMeta) {
		t.Fatalf("removing the living master: %v", err)
	}
	if err := r.RemoveBroker(ctxT(t), g, 3, false); !errors.Is(err, ledgerless.ErrInvalidCleanBrokerMeta) {
		t.Fatalf("removing a living broker without force: %v", err)
	}
	if err := r.RemoveBroker(ctxT(t), g, 3, true); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveGroup(ctxT(t), g, false); !errors.Is(err, ledgerless.ErrInvalidCleanBrokerMeta) {
		t.Fatalf("removing a living group without force: %v", err)
	}
	if err := r.RemoveGroup(ctxT(t), g, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Group(ctxT(t), g); !errors.Is(err, ledgerless.ErrBrokerMetadataNotExist) {
		t.Fatalf("removed group: %v", err)
	}
	if _, _, err := r.History(ctxT(t), g, 0, 10); !errors.Is(err, ledgerless.ErrBrokerMetadataNotExist) {
		t.Fatalf("history of the removed group: %v", err)
	}
	if _, err := r.ClusterGroups(ctxT(t), g.Cluster); !errors.Is(err, ledgerless.ErrBrokerMetadataNotExist) {
		t.Fatalf("the cluster of the removed group: %v", err)
	}
	if cs, err := r.Clusters(ctxT(t)); err != nil || len(cs) != 0 {
		t.Fatalf("clusters after the removal: %+v %v", cs, err)
	}

	// Created again, the group continues its epochs and broker ids, so
	// that no broker of its earlier life sees an epoch go back.
	id := register(t, r, g, "again", 0)
	grp = group(t, r, g)
	if id != 4 || grp.State.MasterBrokerID != 4 || grp.State.MasterEpoch != 3 || grp.State.SyncStateSetEpoch != 4 {
		t.Fatalf("group created again: id %d, %+v", id, grp.State)
	}
	if h := history(t, r, g); len(h) != 1 || h[0].MasterEpoch != 3 || h[0].Reason != ledgerless.ReasonFirstMaster {
		t.Fatalf("history of the group created again: %+v", h)
	}
}

func TestHistoryPages(t *testing.T) {
	r := threeReplicas(t, 0)[0]
	g := key("g")
	pair(t, r, g, 0)
	for range 4 { // switch back and forth: epochs 2..5
		if _, err := r.Elect(ctxT(t), g, 0); err != nil {
			t.Fatal(err)
		}
		inSync(t, r, g, 1, 2)
	}
	var epochs []int64
	before := int64(0)
	for {
		page, next, err := r.History(ctxT(t), g, before, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			epochs = append(epochs, e.MasterEpoch)
		}
		if next == 0 {
			break
		}
		before = next
	}
	if fmt.Sprint(epochs) != "[5 4 3 2 1]" {
		t.Fatalf("paged history epochs %v", epochs)
	}
}

// TestHistoryChecksItsInput: History refuses a page it cannot serve as
// INVALID_REQUEST, whoever calls it, instead of panicking.
func TestHistoryChecksItsInput(t *testing.T) {
	r := threeReplicas(t, 0)[0]
	g := key("g")
	pair(t, r, g, 0)
	for _, tc := range []struct {
		before int64
		limit  int
	}{{0, 0}, {0, -1}, {-1, 10}, {0, service.MaxHistoryLimit + 1}} {
		if _, _, err := r.History(ctxT(t), g, tc.before, tc.limit); !errors.Is(err, ledgerless.ErrInvalidRequest) {
			t.Errorf("history before %d limit %d: %v, want INVALID_REQUEST", tc.before, tc.limit, err)
		}
	}
	if _, _, err := r.History(ctxT(t), ledgerless.GroupKey{Cluster: "c1", Group: ".."}, 0, 10); !errors.Is(err, ledgerless.ErrInvalidRequest) {
		t.Errorf("history of group ..: %v, want INVALID_REQUEST", err)
	}
}

// TestPatchConfigAt: a conditional patch applies to the revision it names
// only; a stale one is ErrPreconditionFailed and changes nothing.
func TestPatchConfigAt(t *testing.T) {
	r := threeReplicas(t, 0)[0]
	pause := func(g string) func(*ledgerless.RuntimeConfig) error {
		return func(c *ledgerless.RuntimeConfig) error { c.PausedGroups = append(c.PausedGroups, g); return nil }
	}
	_, rev, err := r.ConfigRevision(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	_, next, err := r.PatchConfigAt(ctxT(t), []int64{rev}, pause("c1/a"))
	if err != nil || next <= rev {
		t.Fatalf("patch at the current revision %d: revision %d, %v", rev, next, err)
	}
	if _, _, err := r.PatchConfigAt(ctxT(t), []int64{rev}, pause("c1/b")); !errors.Is(err, ledgerless.ErrPreconditionFailed) {
		t.Fatalf("patch at the stale revision %d: %v, want ErrPreconditionFailed", rev, err)
	}
	c, now, err := r.ConfigRevision(ctxT(t))
	if err != nil || now != next || fmt.Sprint(c.PausedGroups) != "[c1/a]" {
		t.Fatalf("after the refused patch: revision %d (want %d), pausedGroups %v, %v", now, next, c.PausedGroups, err)
	}
}
