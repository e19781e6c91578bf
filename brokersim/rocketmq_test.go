package brokersim_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/remoting"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// rocketmqReplica starts a replica whose remoting protocol, on its REST
// port, names the address brokers reach as the leader's, and returns that
// address.
func rocketmqReplica(t *testing.T, prefix, id string) string {
	t.Helper()
	var addr string
	servertest.Start(t, prefix, id, func(c *server.Config) { c.Remoting.Advertise, addr = c.Listen, c.Listen })
	return addr
}

// rocketmq configures a broker of RocketMQ's protocol with a 2 s lease,
// whose 1004 poll comes once, 3 s after the start, and then only after a
// minute: a role change it acts on within that minute was pushed (1008).
func rocketmq(c *brokersim.Config) {
	c.Protocol, c.HeartbeatTimeout, c.RocketMQ.SyncBrokerMetadataPeriod = brokersim.ProtocolRocketMQ, 2*time.Second, time.Minute
}

// TestRocketMQBroker: brokers speaking RocketMQ's protocol register (the
// brokerIdentity files), one is elected master, the others join its
// SyncStateSet; when the master is gone, a slave takes over once the
// master's lease expired, told by NOTIFY, with every acknowledged
// message; the old master restarts on its identity and rejoins.
func TestRocketMQBroker(t *testing.T) {
	prefix := storetest.Prefix(t)
	ctl := []string{rocketmqReplica(t, prefix, "r1"), rocketmqReplica(t, prefix, "r2")}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	brokers := make([]*sim, 3)
	for i := range brokers {
		brokers[i] = startBroker(t, dirs[i], rocketmq, ctl...)
	}
	first := masterWithSet(t, 3, 0, brokers...)
	acks := produce(t, "m-", 30, brokers...)
	ids := map[int64]bool{}
	for i, b := range brokers {
		holdsAll(t, b, acks)
		s := status(t, b.addr)
		ids[s.BrokerID] = true
		data, err := os.ReadFile(filepath.Join(dirs[i], "brokerIdentity"))
		if want := fmt.Sprintf("c1#g1#%d", s.BrokerID); err != nil || string(data) != want {
			t.Errorf("broker %s: brokerIdentity %q, %v; want %q", b.addr, data, err, want)
		}
		if _, err := os.Stat(filepath.Join(dirs[i], "brokerIdentity-temp")); !os.IsNotExist(err) {
			t.Errorf("broker %s: brokerIdentity-temp left behind: %v", b.addr, err)
		}
	}
	if len(ids) != 3 {
		t.Errorf("broker ids %v, want three", ids)
	}
	before := status(t, first.addr)

	first.stop() // a stock broker does not resign: its lease runs out
	i := slices.Index(brokers, first)
	rest := slices.Delete(slices.Clone(brokers), i, i+1)
	second := masterWithSet(t, 1, before.MasterEpoch, rest...)
	eventually(t, "the other slave following the new master", func() bool {
		for _, b := range rest {
			if s := status(t, b.addr); s.MasterEpoch <= before.MasterEpoch {
				return false
			}
		}
		return true
	})
	s := status(t, second.addr)
	if !slices.Contains(before.SyncStateSet, s.BrokerID) {
		t.Errorf("new master %d is not from the SyncStateSet %v", s.BrokerID, before.SyncStateSet)
	}
	acks = append(acks, produce(t, "n-", 20, rest...)...)
	holdsAll(t, second, acks)

	brokers[i] = startBroker(t, dirs[i], rocketmq, ctl...)
	eventually(t, "the old master back in the SyncStateSet", func() bool {
		s := status(t, second.addr)
		return s.Role == ledgerless.RoleMaster && len(s.SyncStateSet) == 3
	})
	if s := status(t, brokers[i].addr); s.Role != ledgerless.RoleSlave || s.BrokerID != before.BrokerID {
		t.Errorf("restarted old master: %+v, want slave %d", s, before.BrokerID)
	}
	acks = append(acks, produce(t, "o-", 10, brokers...)...)
	for _, b := range brokers {
		holdsAll(t, b, acks)
	}
}

// TestRocketMQNotifyEpochs: a NOTIFY (1008) changes a broker's role only
// for a masterEpoch above the one it acts on, and only naming a master.
func TestRocketMQNotifyEpochs(t *testing.T) {
	ctl := rocketmqReplica(t, storetest.Prefix(t), "r1")
	brokers := []*sim{startBroker(t, "", rocketmq, ctl), startBroker(t, "", rocketmq, ctl)}
	master := masterWithSet(t, 2, 0, brokers...)
	slave := brokers[0]
	if slave == master {
		slave = brokers[1]
	}
	before := status(t, slave.addr)
	ms := status(t, master.addr)
	// notify pushes a NOTIFY of masterEpoch epoch naming master (none
	// when 0) at the slave's address, as the controller would.
	notify := func(master, epoch int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := remoting.Dial(ctx, slave.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var ext remoting.Fields
		if master != 0 {
			ext.Set("masterAddress", slave.addr)
			ext.SetInt64("masterBrokerId", master)
		}
		ext.SetInt64("masterEpoch", epoch)
		ext.SetInt64("syncStateSetEpoch", 99)
		body, _ := remoting.EncodeBody(remoting.SyncStateSetBody{SyncStateSet: []int64{before.BrokerID}, SyncStateSetEpoch: 99})
		resp, err := c.Invoke(ctx, remoting.Request(remoting.NotifyBrokerRoleChanged, ext, body))
		if err != nil || resp.Code != remoting.Success {
			t.Fatalf("notify %v: %+v, %v", ext, resp, err)
		}
	}
	notify(before.BrokerID, before.MasterEpoch)
	if before.MasterEpoch > 1 {
		notify(before.BrokerID, before.MasterEpoch-1)
	}
	notify(0, before.MasterEpoch+5)
	if s := status(t, slave.addr); s.Role != ledgerless.RoleSlave || s.MasterEpoch != before.MasterEpoch || s.MasterBrokerID != ms.BrokerID {
		t.Fatalf("after NOTIFYs of no higher epoch or no master: %+v, want the slave of %d at %d", s, ms.BrokerID, before.MasterEpoch)
	}

	// A higher one is acted on at once: here it names the slave master of
	// an epoch the controller never had, which the broker cannot tell.
	notify(before.BrokerID, before.MasterEpoch+1)
	eventually(t, "the higher NOTIFY acted on", func() bool {
		s := status(t, slave.addr)
		return s.Role == ledgerless.RoleMaster && s.MasterEpoch == before.MasterEpoch+1
	})
}

// TestApplyBrokerConf: a stock broker.conf's settings by RocketMQ's names.
func TestApplyBrokerConf(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "broker.conf")
	text := `# a stock broker in controller mode
brokerClusterName = DefaultCluster
brokerName=broker-a
brokerId=-1
brokerRole=SLAVE
enableControllerMode=true
controllerAddr=127.0.0.1:9878;\
    127.0.0.1:9868; 127.0.0.1:9858
listenPort=30911
brokerIP1=10.0.0.7
storePathRootDir=/tmp/rmqstore/node00
allAckInSyncStateSet=true
brokerHeartbeatInterval=500
controllerHeartBeatTimeoutMills=2000
syncBrokerMetadataPeriod=4000
syncControllerMetadataPeriod=9000
checkSyncStateSetPeriod=3000
haMaxTimeSlaveNotCatchup=15000
brokerElectionPriority=7
`
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c := brokersim.Config{Listen: "0.0.0.0:10911"}
	if err := brokersim.ReadBrokerConf(conf, &c); err != nil {
		t.Fatal(err)
	}
	want := brokersim.Config{Protocol: brokersim.ProtocolRocketMQ, Listen: "0.0.0.0:30911", Advertise: "10.0.0.7:30911",
		Controllers: []string{"127.0.0.1:9878", "127.0.0.1:9868", "127.0.0.1:9858"}, Cluster: "DefaultCluster", Group: "broker-a",
		DataDir: "/tmp/rmqstore/node00", HeartbeatInterval: 500 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
		RocketMQ:    brokersim.RocketMQ{SyncBrokerMetadataPeriod: 4 * time.Second, SyncControllerMetadataPeriod: 9 * time.Second},
		ShrinkEvery: 3 * time.Second, LagMax: 15 * time.Second, ElectionPriority: 7}
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("read\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	for _, bad := range []string{"enableControllerMode=false", "listenPort=x", "brokerHeartbeatInterval=-1",
		"controllerHeartBeatTimeoutMills=1s", "brokerElectionPriority=high", `brokerName=\u12`} {
		p, err := remoting.ParseProperties([]byte(bad))
		if err == nil {
			c := brokersim.Config{Listen: "127.0.0.1:10911"}
			err = brokersim.ApplyBrokerConf(p, &c)
		}
		if err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) && !strings.Contains(err.Error(), "escape") {
			t.Errorf("%s: %v, want an error naming it", bad, err)
		}
	}
}
