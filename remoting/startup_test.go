package remoting

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// stockBroker plays a stock RocketMQ broker's side of the controller
// protocol, step by step as ReplicasManager does, over Client: it is how
// the tests check a broker's whole life against one replica or several.
type stockBroker struct {
	t        *testing.T
	addr     string // its listen address: where NOTIFY arrives
	ln       net.Listener
	clients  []*Client // one per controller address
	leader   *Client
	id       int64
	notified chan *Command

	mu      sync.Mutex
	stopped chan struct{}
	beating sync.WaitGroup
}

func newStockBroker(t *testing.T, controllers []string) *stockBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &stockBroker{t: t, addr: ln.Addr().String(), ln: ln, notified: make(chan *Command, 16), stopped: make(chan struct{})}
	go acceptNotify(ln, b.notified)
	for _, a := range controllers {
		b.clients = append(b.clients, dial(t, a))
	}
	t.Cleanup(b.kill)
	return b
}

// start runs the start-up sequence: 1005 to find the leader, 1012, 1013
// and 1003 to get an id, one round of heartbeats, 1002 when the register
// answer named no master, and a 1004 poll. It returns the poll's answer.
func (b *stockBroker) start() *Command {
	t := b.t
	for _, c := range b.clients {
		resp := invoke(t, c, Request(GetMetadataInfo, nil, nil))
		if addr, _ := resp.Ext.Get("controllerLeaderAddress"); resp.Code == Success && addr != "" {
			b.leader = c
			break
		}
	}
	if b.leader == nil {
		t.Fatal("no controller named a leader")
	}
	b.id = startBroker(t, b.leader, b.addr)
	reg := invoke(t, b.leader, Request(RegisterBroker, Fields{{"clusterName", "c1"}, {"brokerName", "g1"},
		{"brokerId", fmt.Sprint(b.id)}, {"brokerAddress", b.addr}}, nil))
	b.heartbeatRound()
	if _, hasMaster := reg.Ext.Get("masterBrokerId"); !hasMaster {
		resp := invoke(t, b.leader, Request(ElectMaster, Fields{{"clusterName", "c1"}, {"brokerName", "g1"},
			{"brokerId", fmt.Sprint(b.id)}, {"designateElect", "false"}}, nil))
		if resp.Code != Success && resp.Code != 2011 {
			t.Fatalf("1002: %s %q", ResponseName(resp.Code), resp.Remark)
		}
		if _, ok := resp.Ext.Get("masterEpoch"); !ok || resp.Body == nil {
			t.Fatalf("1002 answer without masterEpoch or body: %+v", resp)
		}
	}
	b.beating.Add(1)
	go func() {
		defer b.beating.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-b.stopped:
				return
			case <-tick.C:
				b.heartbeatRound()
			}
		}
	}()
	return b.poll()
}

func (b *stockBroker) heartbeatRound() {
	for _, c := range b.clients {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Oneway(ctx, heartbeatRequest(b.id, b.addr, 2000))
		cancel()
	}
}

func (b *stockBroker) poll() *Command {
	resp := invoke(b.t, b.leader, Request(GetReplicaInfo, Fields{{"brokerName", "g1"}}, nil))
	if _, ok := resp.Ext.Get("masterEpoch"); resp.Code != Success || !ok || resp.Body == nil {
		b.t.Fatalf("1004: %+v", resp)
	}
	return resp
}

// kill stops the broker as kill -9 does: no more heartbeats, connections
// closed.
func (b *stockBroker) kill() {
	b.mu.Lock()
	select {
	case <-b.stopped:
	default:
		close(b.stopped)
	}
	b.mu.Unlock()
	b.beating.Wait()
	_ = b.ln.Close()
	for _, c := range b.clients {
		_ = c.Close()
	}
}

// testStartupAndFailover starts a master and a slave against the
// controllers, kills the master, and checks that the slave is told by
// NOTIFY that it is the new master.
func testStartupAndFailover(t *testing.T, controllers []*controller) {
	var addrs []string
	for _, c := range controllers {
		addrs = append(addrs, c.addr)
	}
	master := newStockBroker(t, addrs)
	first := master.start()
	if id, _ := first.Ext.Int64("masterBrokerId"); id != master.id {
		t.Fatalf("the first broker is not master: %+v", first)
	}
	slave := newStockBroker(t, addrs)
	poll := slave.start()
	if id, _ := poll.Ext.Int64("masterBrokerId"); id != master.id {
		t.Fatalf("the slave sees master %v", poll.Ext)
	}
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	// The master adds the slave to its SyncStateSet, as a master does
	// once the slave caught up.
	epoch, _ := poll.Ext.Int64("masterEpoch")
	alter := invoke(t, master.leader, Request(AlterSyncStateSet, Fields{{"brokerName", "g1"},
		{"masterBrokerId", fmt.Sprint(master.id)}, {"masterEpoch", fmt.Sprint(epoch)}},
		[]byte(fmt.Sprintf(`{"syncStateSet":[%d,%d],"syncStateSetEpoch":1}`, master.id, slave.id))))
	if alter.Code != Success {
		t.Fatalf("1001: %s %q", ResponseName(alter.Code), alter.Remark)
	}
	eventually(t, 5*time.Second, "every replica counts the slave's connection", func() bool {
		for _, c := range controllers {
			if c.svc.Connections(g, slave.id) == 0 {
				return false
			}
		}
		return true
	})
	master.kill()
	select {
	case n := <-slave.notified:
		if id, _ := n.Ext.Int64("masterBrokerId"); id != slave.id || !n.IsOneway() {
			t.Errorf("NOTIFY %+v %q: want the slave %d as master", n.Ext, n.Body, slave.id)
		}
		if e, _ := n.Ext.Int64("masterEpoch"); e != epoch+1 {
			t.Errorf("NOTIFY masterEpoch %d, want %d", e, epoch+1)
		}
		var body SyncStateSetBody
		if err := DecodeBody(n.Body, &body); err != nil || len(body.SyncStateSet) != 1 || body.SyncStateSet[0] != slave.id {
			t.Errorf("NOTIFY body %q: %v", n.Body, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no NOTIFY reached the slave within 15 s of the master's death")
	}
	if id, _ := slave.poll().Ext.Int64("masterBrokerId"); id != slave.id {
		t.Errorf("after the failover the slave polls master %d", id)
	}
}

// acceptNotify hands every request that arrives on ln to got, or drops
// it when got is full.
func acceptNotify(ln net.Listener, got chan<- *Command) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			r := bufio.NewReader(conn)
			for {
				frame, err := ReadFrame(r, MaxFrame)
				if err != nil {
					return
				}
				c, err := Decode(frame)
				if err != nil {
					return
				}
				select {
				case got <- c:
				default:
				}
			}
		}()
	}
}

// TestStartupOneReplica: a stock broker's start-up and a failover against
// one replica.
func TestStartupOneReplica(t *testing.T) {
	c := startController(t, storetest.Prefix(t), "r1")
	testStartupAndFailover(t, []*controller{c})
}

// TestStartupThreeReplicas: the same against three replicas on one etcd,
// every broker heartbeating to each.
func TestStartupThreeReplicas(t *testing.T) {
	prefix := storetest.Prefix(t)
	var cs []*controller
	for i := 1; i <= 3; i++ {
		cs = append(cs, startController(t, prefix, fmt.Sprintf("r%d", i)))
	}
	testStartupAndFailover(t, cs)
}
