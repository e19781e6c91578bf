package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
)

// crashTimeout is the heartbeat timeout of the crash tests: RocketMQ's
// default, far above any crash failover, so that a lease expiry cannot
// pass for one.
const crashTimeout = 10 * time.Second

// crashCluster is a cluster of a REST group and a RocketMQ-protocol group
// whose brokers heartbeat every second with a 10 s timeout; controllers,
// when set, is as cluster.brokerControllers.
func crashCluster(t *testing.T, controllers func(b *broker, urls []string) []string) *cluster {
	t.Helper()
	return startClusterWith(t, func(c *cluster) {
		c.timeout, c.interval, c.brokerControllers = crashTimeout, time.Second, controllers
	})
}

// reasonOf reads the reason of masterEpoch in g's election history.
func (c *cluster) reasonOf(t *testing.T, g *group, masterEpoch int64) string {
	t.Helper()
	var h struct {
		Items []struct {
			MasterEpoch int64  `json:"masterEpoch"`
			Reason      string `json:"reason"`
		} `json:"items"`
	}
	if _, err := c.admin.Call(context.Background(), http.MethodGet, client.GroupPath(c.name, g.name, "history")+"?limit=10", nil, &h); err != nil {
		t.Fatalf("%s: history: %v", g.name, err)
	}
	for _, e := range h.Items {
		if e.MasterEpoch == masterEpoch {
			return e.Reason
		}
	}
	t.Fatalf("%s: masterEpoch %d is not in the history %+v", g.name, masterEpoch, h.Items)
	return ""
}

var suspicionLine = regexp.MustCompile(`(?m)^ledgerless_crash_suspicions_total\{outcome="(\w+)"\} (\d+)$`)

// suspicions sums every replica's crash suspicions by outcome (raised,
// confirmed, dismissed), as their /metrics say; a replica that does not
// answer counts nothing.
func (c *cluster) suspicions(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, u := range c.urls {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, m := range suspicionLine.FindAllStringSubmatch(string(body), -1) {
				n, _ := strconv.Atoi(m[2])
				out[m[1]] += n
			}
		}
		cancel()
	}
	return out
}

// TestCrashFailover: kill -9 of a master, 20 times (10 in each group at
// once), each killed broker restarted as a slave. Every failover is
// committed through the crash path (reason master-crashed), well within
// the 10 s heartbeat timeout, and the invariants hold over the whole
// history. The times, from the kill to the commit as the controller
// recorded it, are reported, not asserted.
func TestCrashFailover(t *testing.T) {
	const rounds = 10 // per group
	c := crashCluster(t, nil)
	var mu sync.Mutex
	var elected, seen []time.Duration
	t.Run("groups", func(t *testing.T) {
		for _, g := range c.groups {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				for range rounds {
					k := c.failover(t, g, crashTimeout)
					if r := c.reasonOf(t, g, k.after.MasterEpoch); r != ledgerless.ReasonCrashed {
						t.Errorf("%s: failover %s after the kill with reason %s, want %s", g.name, k.elected, r, ledgerless.ReasonCrashed)
					}
					mu.Lock()
					elected, seen = append(elected, k.elected), append(seen, k.seen)
					mu.Unlock()
					k.old.start(t)
				}
			})
		}
	})
	if len(elected) > 0 {
		t.Logf("%d kill -9 failovers at a %s heartbeat timeout: kill to commit %s; kill to a long poll seeing it %s",
			len(elected), crashTimeout, percentiles(elected), percentiles(seen))
	}
	if t.Failed() {
		return
	}
	c.check(t)
}

// percentiles describes ds: min, p50, p99, max.
func percentiles(ds []time.Duration) string {
	ds = append([]time.Duration(nil), ds...)
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("min %s, p50 %s, p99 %s, max %s", r(ds[0]), r(at(0.5)), r(at(0.99)), r(ds[len(ds)-1]))
}

// TestNoFalseCrash: in a REST group and a RocketMQ-protocol group at
// once, a master whose connection to its replica drops and reopens, that
// switches replicas, whose replica restarts (SIGTERM, then kill -9), or
// whose link to its replica fails silently keeps its role, and so does
// every other broker. Each broker reaches its preferred replica through a
// proxy of its own, on which the test breaks the link; the dropped
// connections must have raised suspicions, all dismissed.
func TestNoFalseCrash(t *testing.T) {
	proxies := map[string]*proxy{}
	var mu sync.Mutex
	c := crashCluster(t, func(b *broker, urls []string) []string {
		// A REST broker is given URLs, a RocketMQ-protocol one host:port.
		scheme, host, found := strings.Cut(urls[0], "://")
		if !found {
			scheme, host = "", urls[0]
		}
		p := newProxy(t, host)
		mu.Lock()
		proxies[b.name] = p
		mu.Unlock()
		if scheme != "" {
			return append([]string{scheme + "://" + p.addr()}, urls[1:]...)
		}
		return append([]string{p.addr()}, urls[1:]...)
	})
	from := time.Now()
	var links []*proxy // each master's link to its preferred replica
	for _, g := range c.groups {
		v, _ := g.waitView(t, "every broker alive and in the SyncStateSet", 60*time.Second, fullSet)
		links = append(links, proxies[g.master(t, v).name])
	}
	each := func(f func(p *proxy)) {
		for _, p := range links {
			f(p)
		}
	}
	settle := func() { time.Sleep(3 * time.Second) } // past the brokers' reconnection and every confirmation
	before := c.suspicions(t)

	t.Log("the masters' connections drop; they reconnect to the same replica")
	each((*proxy).cut)
	settle()
	// The REST master's poll was its only connection to that replica; a
	// RocketMQ-protocol master may also talk to it directly, as the
	// controller leader its first controller named, and is not suspect.
	if raised := c.suspicions(t)["raised"] - before["raised"]; raised == 0 {
		t.Error("dropping the masters' connections raised no crash suspicion: the signal is not tied to them")
	}

	t.Log("the masters switch replicas")
	// replicas are the addresses by which p's broker reaches each replica:
	// a RocketMQ-protocol broker reaches them through c.links.
	var hosts, linked []string
	for _, u := range c.urls {
		hosts = append(hosts, strings.TrimPrefix(u, "http://"))
	}
	for _, l := range c.links {
		linked = append(linked, l.addr)
	}
	replicas := func(p *proxy) []string {
		if slices.Contains(linked, p.targetNow()) {
			return linked
		}
		return hosts
	}
	preferred := map[*proxy]int{}
	each(func(p *proxy) { preferred[p] = slices.Index(replicas(p), p.targetNow()) })
	each(func(p *proxy) { p.retarget(replicas(p)[(preferred[p]+1)%len(c.urls)]); p.cut() })
	settle()
	each(func(p *proxy) { p.retarget(replicas(p)[preferred[p]]); p.cut() })
	settle()

	restarted := map[int]bool{}
	for _, i := range preferred {
		if restarted[i] {
			continue
		}
		restarted[i] = true
		t.Logf("a master's replica, %s, restarts: SIGTERM, then kill -9", c.controllers[i].name)
		ctl := c.controllers[i]
		if err := ctl.stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		ctl.start(t)
		c.waitControllers(t)
		settle()
		ctl.kill()
		settle()
		ctl.start(t)
		c.waitControllers(t)
		settle()
	}

	t.Log("the masters' links to their replicas fail silently for longer than the heartbeat timeout, then heal")
	each((*proxy).freeze)
	time.Sleep(crashTimeout + 5*time.Second)
	each((*proxy).cut)
	settle()

	for _, o := range c.epochChanges(from) {
		t.Errorf("role change without a crash: %s", o)
	}
	after := c.suspicions(t)
	t.Logf("crash suspicions during the test (replicas restarted count from their start): %v", after)
	if after["confirmed"] != 0 || before["confirmed"] != 0 {
		t.Errorf("crash suspicions confirmed: %d before the test, %d after, want none", before["confirmed"], after["confirmed"])
	}
	for _, g := range c.groups {
		g.waitView(t, "every broker alive and in the SyncStateSet", 30*time.Second, fullSet)
	}
	c.check(t)
}
