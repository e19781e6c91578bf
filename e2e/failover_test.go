package e2e

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/client"
)

// killed is what failover saw.
type killed struct {
	old     *broker
	after   *client.Group // the controller's view with the new master
	elected time.Duration // from the kill to the election's commit, as the controller recorded it
	seen    time.Duration // from the kill to a long poll bringing the new master
}

// failover kills the master of g (kill -9) once every broker is in the
// SyncStateSet and waits for the controller to name a new master, which
// must come from the SyncStateSet, within the heartbeat timeout plus 1 s
// of the kill.
func (c *cluster) failover(t *testing.T, g *group, timeout time.Duration) killed {
	t.Helper()
	before, _ := g.waitView(t, "every broker alive and in the SyncStateSet", 60*time.Second, fullSet)
	old := g.master(t, before)
	at := old.kill()
	after, seen := g.waitView(t, "a new master", 30*time.Second, func(v *client.Group) bool {
		return v.MasterEpoch > before.MasterEpoch && v.MasterBrokerID != nil && *v.MasterBrokerID != *before.MasterBrokerID
	})
	if !slices.Contains(before.SyncStateSet, *after.MasterBrokerID) {
		t.Errorf("%s: new master %d is not from the SyncStateSet %v", g.name, *after.MasterBrokerID, before.SyncStateSet)
	}
	k := killed{old: old, after: after, elected: c.electedAt(t, g, after.MasterEpoch).Sub(at), seen: seen.Sub(at)}
	if k.elected > timeout+time.Second {
		t.Errorf("%s: new master elected %s after the kill, want within %s", g.name, k.elected, timeout+time.Second)
	}
	return k
}

// longestTimeout is the longest heartbeat timeout of c's groups.
func (c *cluster) longestTimeout() time.Duration {
	d := heartbeatTimeout
	for _, g := range c.groups {
		d = max(d, g.timeout)
	}
	return d
}

// electedAt reads when masterEpoch began in g's election history.
func (c *cluster) electedAt(t *testing.T, g *group, masterEpoch int64) time.Time {
	t.Helper()
	var h struct {
		Items []struct {
			MasterEpoch int64     `json:"masterEpoch"`
			Time        time.Time `json:"time"`
		} `json:"items"`
	}
	if _, err := c.admin.Call(context.Background(), http.MethodGet, client.GroupPath(c.name, g.name, "history")+"?limit=10", nil, &h); err != nil {
		t.Fatalf("%s: history: %v", g.name, err)
	}
	for _, e := range h.Items {
		if e.MasterEpoch == masterEpoch {
			return e.Time
		}
	}
	t.Fatalf("%s: masterEpoch %d is not in the history %+v", g.name, masterEpoch, h.Items)
	return time.Time{}
}

// TestKillMaster, in a REST group and in one of RocketMQ's protocol:
// kill -9 of a master. A member of the SyncStateSet is master within the
// heartbeat timeout plus 1 s, the producer goes on, and the old master,
// restarted on its data, rejoins as a slave having truncated only what
// was not acknowledged. Then SIGTERM of the master: a REST master
// resigns and is replaced at once, recorded as master-resigned; a stock
// broker does not resign, and is replaced within the heartbeat timeout
// plus 1 s.
func TestKillMaster(t *testing.T) {
	c := startCluster(t)
	for _, g := range c.groups {
		t.Run(g.protocol, func(t *testing.T) { c.killMaster(t, g) })
	}
}

func (c *cluster) killMaster(t *testing.T, g *group) {
	k := c.failover(t, g, g.timeout)
	after, old, seen := k.after, k.old, time.Now()
	t.Logf("kill -9 of the master: new master %d elected after %s, seen by a long poll after %s", *after.MasterBrokerID, k.elected, k.seen)
	next := g.master(t, after)
	waitFor(t, "the new master acting as master", 10*time.Second, func() bool {
		s := next.status()
		return s.Role == ledgerless.RoleMaster && s.MasterEpoch == after.MasterEpoch
	})
	t.Logf("the new master acts as master %s after the kill", k.seen+time.Since(seen))
	waitFor(t, "the producer acknowledged by the new master", 20*time.Second, func() bool {
		return slices.ContainsFunc(g.readAcks(t), func(a brokersim.Ack) bool { return a.Epoch == after.MasterEpoch })
	})

	old.start(t)
	g.waitView(t, "the old master back in the SyncStateSet", 30*time.Second, fullSet)
	s := old.status()
	if s.Role != ledgerless.RoleSlave || s.MasterEpoch < after.MasterEpoch {
		t.Errorf("restarted old master: %+v", s)
	}
	t.Logf("the restarted old master truncated %d entries", s.Truncated)
	c.check(t)

	before, _ := g.waitView(t, "every broker alive and in the SyncStateSet", 30*time.Second, fullSet)
	next = g.master(t, before)
	stopped := time.Now()
	if err := next.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	exited := time.Since(stopped)
	resigned, seen := g.waitView(t, "a new master", 30*time.Second, func(v *client.Group) bool {
		return v.MasterEpoch > before.MasterEpoch && v.MasterBrokerID != nil
	})
	t.Logf("SIGTERM of the master: exit after %s, new master seen after %s", exited, seen.Sub(stopped))
	// Whichever of the three replicas commits the successor, the history
	// tells a clean shutdown from a crash.
	if reason := c.reasonOf(t, g, resigned.MasterEpoch); g.protocol == brokersim.ProtocolREST && reason != ledgerless.ReasonResigned {
		t.Errorf("SIGTERM of a REST master recorded as %s, want %s", reason, ledgerless.ReasonResigned)
	}
	switch {
	case g.protocol == brokersim.ProtocolREST && seen.Sub(stopped) >= g.timeout:
		t.Errorf("new master %s after SIGTERM: the master did not resign", seen.Sub(stopped))
	case seen.Sub(stopped) > g.timeout+time.Second+exited:
		t.Errorf("new master %s after SIGTERM, want within the heartbeat timeout %s plus 1 s of the exit", seen.Sub(stopped), g.timeout)
	}
	next.start(t)
	g.waitView(t, "the stopped master back in the SyncStateSet", 30*time.Second, fullSet)
}

// TestStopMaster, in a REST group and in one of RocketMQ's protocol:
// SIGSTOP of a master for longer than the heartbeat timeout. Another
// broker is elected; after SIGCONT the old master learns from the higher
// epoch that it is a slave, and the write it took while stale was never
// acknowledged.
func TestStopMaster(t *testing.T) {
	c := startCluster(t)
	for _, g := range c.groups {
		t.Run(g.protocol, func(t *testing.T) { c.stopMaster(t, g) })
	}
}

func (c *cluster) stopMaster(t *testing.T, g *group) {
	before, _ := g.waitView(t, "every broker alive and in the SyncStateSet", 60*time.Second, fullSet)
	old := g.master(t, before)
	stopped := time.Now()
	old.signal(syscall.SIGSTOP)
	waitFor(t, "the master stopped", 10*time.Second, old.node.(*process).stopped)

	// A write the stopped master reads once it runs again.
	stale := make(chan int, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+old.addr+"/produce", strings.NewReader("stale-write"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			stale <- 0
			return
		}
		resp.Body.Close()
		stale <- resp.StatusCode
	}()
	after, seen := g.waitView(t, "a new master", 30*time.Second, func(v *client.Group) bool {
		return v.MasterEpoch > before.MasterEpoch && v.MasterBrokerID != nil
	})
	t.Logf("SIGSTOP of the master: new master %d seen after %s", *after.MasterBrokerID, seen.Sub(stopped))
	time.Sleep(time.Until(stopped.Add(2 * g.timeout))) // stopped well beyond the timeout
	old.signal(syscall.SIGCONT)
	resumed := time.Now()
	waitFor(t, "the old master a slave at the new epoch", 20*time.Second, func() bool {
		s := old.status()
		return s.Role == ledgerless.RoleSlave && s.MasterEpoch >= after.MasterEpoch
	})
	t.Logf("the old master learned it is a slave %s after SIGCONT", time.Since(resumed))
	if code := <-stale; code == http.StatusOK {
		t.Errorf("the stale master acknowledged a write")
	}
	g.waitView(t, "the old master back in the SyncStateSet", 30*time.Second, fullSet)
	c.check(t)
	for _, b := range g.brokers {
		var l brokersim.LogAnswer
		if err := getJSON("http://"+b.addr+"/log?limit=1000000", &l); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(l.Entries, func(e brokersim.Entry) bool { return e.Payload == "stale-write" }) {
			t.Errorf("%s holds the stale master's write", b.name)
		}
	}
}

// TestOutages: a broker of RocketMQ's protocol losing its connection to
// one controller replica while it heartbeats the others, controller
// replicas dying, and an etcd member dying change no broker's role.
func TestOutages(t *testing.T) {
	c := startCluster(t)
	timeout := c.longestTimeout()
	t.Run("one controller connection", func(t *testing.T) {
		if len(c.links) == 0 {
			t.Skip("no group of RocketMQ's protocol")
		}
		from := time.Now()
		c.links[0].set(true) // every RocketMQ-protocol broker's path to controller 1
		time.Sleep(3 * timeout)
		c.links[0].set(false)
		for _, g := range c.groups {
			g.waitView(t, "every broker alive", 10*time.Second, fullSet)
		}
		for _, o := range c.epochChanges(from) {
			t.Errorf("role change while a controller connection was cut: %s", o)
		}
		c.check(t)
	})
	t.Run("controllers", func(t *testing.T) {
		from := time.Now()
		c.controllers[0].kill()
		time.Sleep(2 * timeout)
		for _, g := range c.groups {
			g.waitView(t, "every broker alive through the other replicas", 10*time.Second, fullSet)
		}
		allDown := time.Now()
		c.controllers[1].kill()
		c.controllers[2].kill()
		time.Sleep(3 * timeout)
		back := time.Now()
		for _, p := range c.controllers {
			p.start(t)
		}
		c.waitControllers(t)
		time.Sleep(2*timeout + time.Second) // past the elections' grace after connecting
		for _, g := range c.groups {
			g.waitView(t, "every broker alive again", 10*time.Second, fullSet)
			acked := 0
			for _, a := range g.readAcks(t) {
				if a.Time.After(allDown) && a.Time.Before(back) {
					acked++
				}
			}
			t.Logf("%s: %d messages acknowledged while every controller replica was down", g.name, acked)
			if acked == 0 {
				t.Errorf("%s: no message acknowledged while the controller was down", g.name)
			}
		}
		for _, o := range c.epochChanges(from) {
			t.Errorf("role change while controller replicas died: %s", o)
		}
		c.check(t)
	})
	t.Run("etcd member", func(t *testing.T) {
		from := time.Now()
		var info struct {
			Etcd struct {
				Leader string `json:"leader"`
			} `json:"etcd"`
		}
		if _, err := c.admin.Call(context.Background(), http.MethodGet, "/v1/controller", nil, &info); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(c.etcd, func(m *etcdMember) bool { return m.name == info.Etcd.Leader })
		if i < 0 {
			t.Fatalf("etcd leader %q is none of the members", info.Etcd.Leader)
		}
		member := c.etcd[i]
		killed := time.Now()
		member.kill()
		time.Sleep(2 * timeout)
		// Heartbeats still reach etcd: each broker's last one is recent.
		for _, g := range c.groups {
			v, _ := g.waitView(t, "every broker alive", 10*time.Second, fullSet)
			waitFor(t, "heartbeats recorded with the leader gone", 10*time.Second, func() bool {
				var now client.Group
				if _, err := c.admin.Call(context.Background(), http.MethodGet, client.GroupPath(c.name, g.name), nil, &now); err != nil {
					return false
				}
				for _, b := range now.Brokers {
					if b.LastHeartbeat == nil || !b.LastHeartbeat.After(killed) {
						return false
					}
				}
				return len(now.Brokers) == len(v.Brokers)
			})
		}
		member.start(t)
		member.waitHealthy(t)
		time.Sleep(timeout)
		for _, o := range c.epochChanges(from) {
			t.Errorf("role change while etcd member %s was down: %s", member.name, o)
		}
		c.check(t)
	})
}

// TestRepeatedFailovers kills the master of both groups again and again,
// restarting each killed broker, and checks the invariants over the whole
// history.
func TestRepeatedFailovers(t *testing.T) {
	const rounds = 10 // per group; both groups at once
	c := startCluster(t)
	var mu sync.Mutex
	var times []time.Duration
	t.Run("groups", func(t *testing.T) {
		for _, g := range c.groups {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				for range rounds {
					k := c.failover(t, g, g.timeout)
					mu.Lock()
					times = append(times, k.seen)
					mu.Unlock()
					k.old.start(t)
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("%d failovers, kill -9 to new master seen: min %s, median %s, max %s", len(times),
		times[0], times[len(times)/2], times[len(times)-1])
	c.check(t)
}
