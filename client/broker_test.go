package client_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestRolesAndResign(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	b1 := run(t, options(t, 1, ctl.URL))
	if v := nextRole(t, b1.Broker); v.Role != ledgerless.RoleMaster || v.MasterEpoch != 1 || v.MasterBrokerID != b1.ID() {
		t.Fatalf("first broker: %+v, want master at epoch 1", v)
	}
	if b1.MasterLeaseRemaining() <= 0 || b1.MasterLeaseRemaining() > 10e9 {
		t.Errorf("lease remaining %s after registration, want within (0, 10s]", b1.MasterLeaseRemaining())
	}
	b2 := run(t, options(t, 2, ctl.URL))
	if v := nextRole(t, b2.Broker); v.Role != ledgerless.RoleSlave || v.MasterEpoch != 1 || v.MasterBrokerID != b1.ID() ||
		v.MasterAddress != "127.0.0.1:10001" {
		t.Fatalf("second broker: %+v, want slave of %d at epoch 1", v, b1.ID())
	}
	// The master puts the slave in the SyncStateSet, then resigns: the
	// slave is master at once, and the old one learns it is a slave.
	v := b1.View()
	if _, err := b1.AlterSyncStateSet(ctxT(t), v.MasterEpoch, v.SyncStateSetEpoch, []int64{2, 1}); err != nil {
		t.Fatal(err)
	}
	if err := b1.Resign(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if b1.MasterLeaseRemaining() != 0 {
		t.Errorf("lease remaining %s after Resign, want 0", b1.MasterLeaseRemaining())
	}
	if v := nextRole(t, b2.Broker); v.Role != ledgerless.RoleMaster || v.MasterEpoch != 2 {
		t.Fatalf("after the master resigned: %+v, want master at epoch 2", v)
	}
	if v := nextRole(t, b1.Broker); v.Role != ledgerless.RoleSlave || v.MasterEpoch != 2 || v.MasterBrokerID != b2.ID() {
		t.Fatalf("resigned master: %+v, want slave at epoch 2", v)
	}
	// Resigned for good: no heartbeat makes it alive again.
	g, err := b2.Group(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if g.Brokers[0].Alive {
		t.Errorf("resigned broker is alive again: %+v", g.Brokers[0])
	}
}

// TestRoleChangeOrder elects back and forth while the brokers read their
// role changes: each sees masterEpochs only go up, each change names the
// master the controller's history names for that epoch, and both end on
// the last one.
func TestRoleChangeOrder(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	brokers := []*running{run(t, options(t, 1, ctl.URL)), run(t, options(t, 2, ctl.URL))}
	const elections = 12
	const last = elections + 1
	seen := make([]chan []client.View, 2)
	for i, b := range brokers {
		seen[i] = make(chan []client.View, 1)
		go func() {
			var views []client.View
			for len(views) == 0 || views[len(views)-1].MasterEpoch < last {
				select {
				case v := <-b.RoleChanges():
					views = append(views, v)
				case <-time.After(20 * time.Second):
					seen[i] <- views
					return
				}
			}
			seen[i] <- views
		}()
	}
	tr := admin(t, ctl.URL)
	for i := range elections {
		// The master takes the other broker in, and the other is elected.
		master, target := brokers[i%2], []int64{2, 1}[i%2]
		g, err := master.Group(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := master.AlterSyncStateSet(ctxT(t), g.MasterEpoch, g.SyncStateSetEpoch, []int64{1, 2}); err != nil {
			t.Fatalf("election %d: %v", i, err)
		}
		if _, err := tr.Do(ctxT(t), http.MethodPost, client.GroupPath("c1", "g1", "elect"), map[string]int64{"brokerId": target}); err != nil {
			t.Fatalf("election %d: %v", i, err)
		}
	}
	var history struct {
		Items []struct {
			MasterEpoch       int64  `json:"masterEpoch"`
			NewMasterBrokerID *int64 `json:"newMasterBrokerId"`
		} `json:"items"`
	}
	if _, err := tr.Call(ctxT(t), http.MethodGet, client.GroupPath("c1", "g1", "history"), nil, &history); err != nil {
		t.Fatal(err)
	}
	masterOf := map[int64]int64{}
	for _, h := range history.Items {
		masterOf[h.MasterEpoch] = *h.NewMasterBrokerID
	}
	for i, b := range brokers {
		views := <-seen[i]
		var epochs []int64
		for _, v := range views {
			if len(epochs) > 0 && v.MasterEpoch <= epochs[len(epochs)-1] {
				t.Errorf("broker %d: masterEpoch %d after %v", b.ID(), v.MasterEpoch, epochs)
			}
			if v.MasterBrokerID != masterOf[v.MasterEpoch] || (v.Role == ledgerless.RoleMaster) != (v.MasterBrokerID == b.ID()) {
				t.Errorf("broker %d: %+v, but the history names master %d for epoch %d", b.ID(), v, masterOf[v.MasterEpoch], v.MasterEpoch)
			}
			epochs = append(epochs, v.MasterEpoch)
		}
		if len(epochs) == 0 || epochs[len(epochs)-1] != last {
			t.Errorf("broker %d saw epochs %v, want to end at %d", b.ID(), epochs, last)
		}
		t.Logf("broker %d saw epochs %v", b.ID(), epochs)
	}
}

// TestControllerFailover stops the replica a broker talks to: the broker
// goes on with the other one, heartbeats and role changes alike.
func TestControllerFailover(t *testing.T) {
	prefix := storetest.Prefix(t)
	first, second := servertest.Start(t, prefix, "r1"), servertest.Start(t, prefix, "r2")
	b1 := run(t, options(t, 1, first.URL, second.URL))
	b2 := run(t, options(t, 2, first.URL, second.URL))
	nextRole(t, b1.Broker)
	nextRole(t, b2.Broker)
	first.Stop()

	// Heartbeats go on through the second replica: the broker's last
	// heartbeat there moves on.
	lastHeartbeat := func() int64 {
		g, err := b1.Group(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return g.Brokers[0].LastHeartbeat.UnixNano()
	}
	before := lastHeartbeat()
	eventually(t, func() bool { return lastHeartbeat() > before })

	// A role change reaches both brokers through the second replica.
	v := b1.View()
	if _, err := b1.AlterSyncStateSet(ctxT(t), v.MasterEpoch, v.SyncStateSetEpoch, []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin(t, second.URL).Do(ctxT(t), http.MethodPost, client.GroupPath("c1", "g1", "elect"), map[string]int64{"brokerId": 2}); err != nil {
		t.Fatal(err)
	}
	if v := nextRole(t, b2.Broker); v.Role != ledgerless.RoleMaster || v.MasterEpoch != 2 {
		t.Fatalf("after the switchover: %+v", v)
	}
	if v := nextRole(t, b1.Broker); v.Role != ledgerless.RoleSlave || v.MasterEpoch != 2 {
		t.Fatalf("after the switchover: %+v", v)
	}
	if b1.MasterLeaseRemaining() <= 0 {
		t.Errorf("broker 1's lease remaining is %s", b1.MasterLeaseRemaining())
	}
}

// TestAlterSyncStateSetErrors checks the typed error of every refusal a
// master can meet, in RocketMQ's order of checks.
func TestAlterSyncStateSetErrors(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	b1 := run(t, options(t, 1, ctl.URL))
	b2 := run(t, options(t, 2, ctl.URL))
	b3 := run(t, options(t, 3, ctl.URL))
	if err := b3.Resign(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	v := b1.View()
	got, err := b1.AlterSyncStateSet(ctxT(t), v.MasterEpoch, v.SyncStateSetEpoch, []int64{2, 1})
	if err != nil || !slices.Equal(got.Set, []int64{1, 2}) || got.Epoch != v.SyncStateSetEpoch+1 {
		t.Fatalf("alter: %+v, %v", got, err)
	}
	if w := b1.View(); !slices.Equal(w.SyncStateSet, []int64{1, 2}) || w.SyncStateSetEpoch != got.Epoch {
		t.Errorf("view after the alter: %+v", w)
	}
	epoch, ssEpoch := v.MasterEpoch, got.Epoch
	for _, tc := range []struct {
		name       string
		broker     *running
		epoch, sse int64
		set        []int64
		want       error
		code       string
		rmq        int
	}{
		{"unchanged set", b1, epoch, ssEpoch, []int64{1, 2}, ledgerless.ErrAlterSyncStateSetFailed, "ALTER_SYNC_STATE_SET_FAILED", 2013},
		{"not the master", b2, epoch, ssEpoch, []int64{2}, ledgerless.ErrInvalidMaster, "INVALID_MASTER", 2002},
		{"stale master epoch", b1, epoch - 1, ssEpoch, []int64{1}, ledgerless.ErrFencedMasterEpoch, "FENCED_MASTER_EPOCH", 2000},
		{"future master epoch", b1, epoch + 1, ssEpoch, []int64{1}, ledgerless.ErrFencedMasterEpoch, "FENCED_MASTER_EPOCH", 2000},
		{"stale set epoch", b1, epoch, ssEpoch - 1, []int64{1}, ledgerless.ErrFencedSyncStateSetEpoch, "FENCED_SYNC_STATE_SET_EPOCH", 2001},
		{"unknown member", b1, epoch, ssEpoch, []int64{1, 2, 9}, ledgerless.ErrInvalidReplicas, "INVALID_REPLICAS", 2003},
		{"dead member", b1, epoch, ssEpoch, []int64{1, 2, 3}, ledgerless.ErrBrokerNotAlive, "BROKER_NOT_ALIVE", 2006},
		{"without the master", b1, epoch, ssEpoch, []int64{2}, ledgerless.ErrAlterSyncStateSetFailed, "ALTER_SYNC_STATE_SET_FAILED", 2013},
	} {
		_, err := tc.broker.AlterSyncStateSet(ctxT(t), tc.epoch, tc.sse, tc.set)
		var p *client.Problem
		if !errors.Is(err, tc.want) || !errors.As(err, &p) || p.Code != tc.code || p.RocketMQCode != tc.rmq || !p.Refused() {
			t.Errorf("%s: %v (%+v), want %v", tc.name, err, p, tc.want)
		}
		for _, other := range []error{ledgerless.ErrUnavailable, ledgerless.ErrInvalidRequest} {
			if errors.Is(err, other) {
				t.Errorf("%s: %v matches %v too", tc.name, err, other)
			}
		}
	}
	if w := b1.View(); w.SyncStateSetEpoch != ssEpoch {
		t.Errorf("refusals moved the view: %+v", w)
	}
}
