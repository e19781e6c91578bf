package remoting

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/internal/crashtest"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// brokerListener is a stock broker's own port (10911), which a live
// broker process keeps open.
func brokerListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln
}

// crashGroup starts a replica that reports its crash suspicions, and a
// group of a master and an in-sync slave, each registered and
// heartbeating (60 s timeout: no lease expires in the test) over a
// connection of its own; the replica trusts the master's address.
func crashGroup(t *testing.T) (c *controller, obs *crashtest.Recorder, master *Client, ln net.Listener) {
	t.Helper()
	obs = &crashtest.Recorder{}
	c = startControllerWith(t, storetest.Prefix(t), "r1", service.Options{Crashes: obs})
	ln, slaveLn := brokerListener(t), brokerListener(t)
	master, slave := dial(t, c.addr), dial(t, c.addr)
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	for i, b := range []struct {
		cl   *Client
		addr string
	}{{master, ln.Addr().String()}, {slave, slaveLn.Addr().String()}} {
		id := startBroker(t, b.cl, b.addr)
		if id != int64(i+1) {
			t.Fatalf("broker id %d", id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := b.cl.Oneway(ctx, heartbeatRequest(id, b.addr, 60000)); err != nil {
			t.Fatal(err)
		}
		cancel()
		// The first broker alive is the master: one after the other.
		eventually(t, 10*time.Second, "broker alive", func() bool {
			b, ok := groupOf(t, c.svc, g).Broker(id)
			return ok && b.Alive
		})
	}
	st := groupOf(t, c.svc, g).State
	if _, err := c.svc.AlterSyncStateSet(context.Background(), g, election.Alter{MasterBrokerID: 1, MasterEpoch: st.MasterEpoch,
		SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: st.SyncStateSetEpoch}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the master's address trusted", func() bool { return c.svc.Armed(g, 1) })
	return c, obs, master, ln
}

// TestConnectionOfDeadBrokerClosed: the master's process dies (its port
// refuses connects, its connection closes): the slave is master at once,
// with reason master-crashed.
func TestConnectionOfDeadBrokerClosed(t *testing.T) {
	c, obs, master, ln := crashGroup(t)
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	_ = ln.Close()
	_ = master.Close()
	if got := obs.Outcomes(t, 1); got[0] != service.CrashConfirmed {
		t.Fatalf("suspicion %v, want confirmed", got)
	}
	grp := groupOf(t, c.svc, g)
	h, _, err := c.svc.History(context.Background(), g, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if grp.State.MasterBrokerID != 2 || h[0].Reason != ledgerless.ReasonCrashed || h[0].OldMasterBrokerID != 1 {
		t.Errorf("state %+v, history %+v: want broker 2 master after master-crashed", grp.State, h)
	}
}

// TestConnectionOfLiveBrokerClosed: the master closes its connection
// while its process lives, or the replica shuts down: nobody is deposed.
func TestConnectionOfLiveBrokerClosed(t *testing.T) {
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	t.Run("broker closes", func(t *testing.T) {
		c, obs, master, _ := crashGroup(t)
		_ = master.Close()
		if got := obs.Outcomes(t, 1); got[0] != "dismissed:answered" {
			t.Fatalf("suspicion %v, want dismissed as answered", got)
		}
		if st := groupOf(t, c.svc, g).State; st.MasterBrokerID != 1 || st.MasterEpoch != 1 {
			t.Errorf("role change: %+v", st)
		}
	})
	t.Run("replica shuts down", func(t *testing.T) {
		c, obs, _, ln := crashGroup(t)
		_ = ln.Close() // even a dead broker's connections, closed by the replica, are no signal
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "the connections ended", func() bool { return c.svc.Held(g, 1) == 0 && c.svc.Held(g, 2) == 0 })
		if n := obs.Suspicions(); n != 0 {
			t.Errorf("%d suspicions raised by the replica's own shutdown", n)
		}
		if st := groupOf(t, c.svc, g).State; st.MasterBrokerID != 1 || st.MasterEpoch != 1 {
			t.Errorf("role change: %+v", st)
		}
	})
}
