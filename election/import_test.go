package election

import (
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
)

// TestDecideImported: a group imported from a stock RocketMQ controller
// has its master, but no broker is alive until they heartbeat to
// ledgerless. Paused (ledgerless import's default), nothing deposes the
// master, even once a slave of its SyncStateSet is alive; unpaused, the
// usual rules apply: once the replica has been connected for the master's
// heartbeat timeout, the master is replaced by an alive member of the set,
// or, with none alive, becomes none at masterEpoch+1.
func TestDecideImported(t *testing.T) {
	imported := func(aliveSlave bool) ledgerless.Group {
		return ledgerless.Group{Key: testKey,
			State: ledgerless.State{MasterBrokerID: 2, MasterAddress: addr(2), MasterEpoch: 7, SyncStateSet: []int64{1, 2},
				SyncStateSetEpoch: 11, NextBrokerID: 3},
			Brokers: []ledgerless.Broker{
				{ID: 1, Address: addr(1), HeartbeatTimeout: hbTimeout, Alive: aliveSlave},
				{ID: 2, Address: addr(2), HeartbeatTimeout: hbTimeout},
			}}
	}
	paused := ledgerless.RuntimeConfig{PausedGroups: []string{testKey.String()}, DefaultHeartbeatTimeout: hbTimeout}
	unpaused := ledgerless.RuntimeConfig{DefaultHeartbeatTimeout: hbTimeout}
	for _, tc := range []struct {
		name       string
		aliveSlave bool
		config     ledgerless.RuntimeConfig
		connected  time.Duration
		master     int64 // after the decision; -1: no change
		epoch      int64
	}{
		{"paused, nobody alive", false, paused, longConnect, -1, 7},
		{"paused, the slave alive", true, paused, longConnect, -1, 7},
		{"unpaused, just connected", true, unpaused, time.Second, -1, 7},
		{"unpaused, nobody alive", false, unpaused, longConnect, 0, 8},
		{"unpaused, the slave alive", true, unpaused, longConnect, 1, 8},
	} {
		d := Decide(Input{Group: imported(tc.aliveSlave), Config: tc.config, Trigger: Automatic, ConnectedFor: tc.connected})
		switch {
		case tc.master == -1 && d.Change:
			t.Errorf("%s: decided %+v, want no change", tc.name, d.Next)
		case tc.master >= 0 && (!d.Change || d.Next.MasterBrokerID != tc.master || d.Next.MasterEpoch != tc.epoch):
			t.Errorf("%s: decided %+v (change %v), want master %d at epoch %d", tc.name, d.Next, d.Change, tc.master, tc.epoch)
		}
	}
}
