package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/client"
)

// Timing of the simulated brokers: a 2 s heartbeat timeout (etcd's
// shortest lease), heartbeats every 500 ms. Brokers of RocketMQ's
// protocol have 5 s: a stock broker looks for reachable controllers
// only every 3 s, so after every controller was down its heartbeats may
// resume 3 s after the replicas are back, which must be within the
// replicas' grace of one heartbeat timeout before they elect.
const (
	heartbeatTimeout  = 2 * time.Second
	rocketmqTimeout   = 5 * time.Second
	heartbeatInterval = 500 * time.Millisecond
	brokersPerGroup   = 3
)

// cluster is a whole deployment on 127.0.0.1: a 3-member etcd cluster,
// three controller replicas on it, and two groups of three simulated
// brokers, each with a producer; every broker and the controller's view
// of every group are watched into a history.
type cluster struct {
	name        string // the cluster of the groups
	dir         string
	etcd        []*etcdMember
	controllers []*process
	urls        []string // the controllers' base URLs
	groups      []*group
	rec         *recorder
	admin       *client.Transport
	started     time.Time
	// The brokers' heartbeat timeout and interval: heartbeatTimeout and
	// heartbeatInterval unless set before startGroups (RocketMQ-protocol
	// brokers have at least rocketmqTimeout).
	timeout, interval time.Duration
	// brokerControllers, when set, gives the controller URLs a broker is
	// started with, from those it would have (its preferred one first).
	brokerControllers func(b *broker, urls []string) []string
	// protocols are the groups' protocols, g1 first (nil: two REST
	// groups); links, one per controller, carry the controller
	// connections of RocketMQ-protocol brokers, to be cut.
	protocols []string
	links     []*cutLink
}

type etcdMember struct {
	*process
	name, clientURL string
}

// group is a broker group, its producer and the controller's view of it.
type group struct {
	name     string
	protocol string        // brokersim's --protocol
	timeout  time.Duration // its brokers' heartbeat timeout
	brokers  []*broker
	producer *process
	acks     string // the producer's acknowledgements file

	mu        sync.Mutex
	view      *client.Group // the controller's, as the last long poll answered
	viewAt    time.Time
	changed   chan struct{} // closed and replaced when view changes
	truncated []brokersim.Entry
}

type broker struct {
	node
	name       string
	group      *group
	addr       string // where the tests reach it
	registered string // the address it registers with
}

// node runs a broker: a process, or a container.
type node interface {
	start(t *testing.T)
	running() bool
	kill()
	stop(within time.Duration) error
	signal(sig syscall.Signal)
}

// startCluster starts a whole deployment, a REST group (g1) and a group
// of RocketMQ's protocol (g2) side by side, and waits until both groups
// have a master with every broker in the SyncStateSet and acknowledged
// writes.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	return startClusterWith(t, nil)
}

// startClusterWith is startCluster with the cluster's brokers set up by
// opts (nil: as startCluster), before they start.
func startClusterWith(t *testing.T, opts func(*cluster)) *cluster {
	t.Helper()
	c := &cluster{name: "e2e", dir: t.TempDir(), rec: newRecorder(), started: time.Now(),
		protocols: []string{brokersim.ProtocolREST, brokersim.ProtocolRocketMQ}}
	var clients []string
	c.etcd, clients = startEtcdCluster(t, c.dir)
	for i := range 3 {
		listen := freeAddr(t)
		c.urls = append(c.urls, "http://"+listen)
		c.controllers = append(c.controllers, newProcess(t, c.dir, fmt.Sprintf("controller-%d", i+1), binary, "serve",
			"--listen", listen, "--replica-id", fmt.Sprintf("c%d", i+1), "--etcd-endpoints", strings.Join(clients, ","),
			"--remoting-advertise", listen, "--shutdown-timeout", "5s"))
	}
	c.waitControllers(t)
	if opts != nil {
		opts(c)
	}
	c.startGroups(t)
	return c
}

// startGroups starts the two groups of simulated brokers and their
// producers on c's controllers and waits until both groups have a master
// with every broker in the SyncStateSet and acknowledged writes.
func (c *cluster) startGroups(t *testing.T) {
	t.Helper()
	if c.timeout == 0 {
		c.timeout, c.interval = heartbeatTimeout, heartbeatInterval
	}
	var err error
	if c.admin, err = client.NewTransport(client.TransportOptions{Controllers: c.urls}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var watchers sync.WaitGroup
	t.Cleanup(func() { cancel(); watchers.Wait() }) // runs before the processes are killed
	for gi, name := range []string{"g1", "g2"} {
		g := &group{name: name, changed: make(chan struct{}), acks: filepath.Join(c.dir, name+"-acks.jsonl"),
			protocol: brokersim.ProtocolREST, timeout: c.timeout}
		if gi < len(c.protocols) && c.protocols[gi] == brokersim.ProtocolRocketMQ {
			g.protocol, g.timeout = brokersim.ProtocolRocketMQ, max(rocketmqTimeout, c.timeout)
			if c.links == nil {
				for _, u := range c.urls {
					c.links = append(c.links, newLink(t, strings.TrimPrefix(u, "http://")))
				}
			}
		}
		c.groups = append(c.groups, g)
		var addrs []string
		for i := range brokersPerGroup {
			b := &broker{name: fmt.Sprintf("%s-b%d", name, i+1), group: g, addr: freeAddr(t)}
			b.registered = b.addr
			addrs = append(addrs, b.addr)
			// Each broker prefers another controller replica.
			urls := append(slices.Clone(c.urls[i:]), c.urls[:i]...)
			if g.protocol == brokersim.ProtocolRocketMQ {
				links := append(slices.Clone(c.links[i:]), c.links[:i]...)
				urls = urls[:0]
				for _, l := range links {
					urls = append(urls, l.addr)
				}
			}
			if c.brokerControllers != nil {
				urls = c.brokerControllers(b, urls)
			}
			b.node = newProcess(t, c.dir, b.name, brokersimBinary, "serve", "--protocol", g.protocol,
				"--listen", b.addr, "--controller", strings.Join(urls, ","), "--cluster", c.name, "--group", name,
				"--data-dir", filepath.Join(c.dir, fmt.Sprintf("%s-b%d", name, i+1)),
				"--heartbeat-timeout", g.timeout.String(), "--heartbeat-interval", c.interval.String())
			g.brokers = append(g.brokers, b)
			watchers.Add(1)
			go func() { defer watchers.Done(); c.watchBroker(ctx, b) }()
		}
		watchers.Add(1)
		go func() { defer watchers.Done(); c.watchGroup(ctx, g) }()
		g.producer = newProcess(t, c.dir, name+"-producer", brokersimBinary, "produce", "--brokers", strings.Join(addrs, ","),
			"--prefix", name+"-", "--acks", g.acks, "--interval", "20ms", "--timeout", "2s")
	}
	for _, g := range c.groups {
		g.waitView(t, "every broker alive and in the SyncStateSet", 60*time.Second, fullSet)
		waitFor(t, "acknowledged writes", 30*time.Second, func() bool { return len(g.readAcks(t)) > 0 })
	}
}

// startEtcdCluster starts a 3-member etcd cluster with its data in dir, waits
// until every member is healthy, and returns the members and their client
// URLs.
func startEtcdCluster(t *testing.T, dir string) ([]*etcdMember, []string) {
	t.Helper()
	var peers, clients, initial []string
	for i := range 3 {
		peers, clients = append(peers, "http://"+freeAddr(t)), append(clients, "http://"+freeAddr(t))
		initial = append(initial, fmt.Sprintf("e%d=%s", i+1, peers[i]))
	}
	var members []*etcdMember
	for i := range 3 {
		name := fmt.Sprintf("e%d", i+1)
		members = append(members, &etcdMember{name: name, clientURL: clients[i], process: newProcess(t, dir, "etcd-"+name, etcdBinary,
			"--name", name, "--data-dir", filepath.Join(dir, name), "--listen-client-urls", clients[i],
			"--advertise-client-urls", clients[i], "--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "e2e", "--log-level", "error", "--unsafe-no-fsync")})
	}
	for _, m := range members {
		m.waitHealthy(t)
	}
	return members, clients
}

// waitHealthy waits until the etcd member answers its health check.
func (m *etcdMember) waitHealthy(t *testing.T) {
	t.Helper()
	waitFor(t, "etcd member "+m.name+" healthy", 60*time.Second, func() bool {
		var h struct {
			Health string `json:"health"`
		}
		return getJSON(m.clientURL+"/health", &h) == nil && h.Health == "true"
	})
}

// waitControllers waits until every controller replica is ready.
func (c *cluster) waitControllers(t *testing.T) {
	t.Helper()
	for _, u := range c.urls {
		waitFor(t, u+" ready", 60*time.Second, func() bool { return client.Ready(context.Background(), http.DefaultClient, u) })
	}
}

// watchBroker records the broker's status every 50 ms until ctx ends.
func (c *cluster) watchBroker(ctx context.Context, b *broker) {
	for ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		s, err := brokersim.ReadStatus(sctx, http.DefaultClient, b.addr)
		cancel()
		if err == nil && s.Role != "" {
			c.rec.add(observation{At: time.Now(), Group: b.group.name, Source: b.name, Broker: s.BrokerID, Role: s.Role,
				Epoch: s.MasterEpoch, Master: s.MasterBrokerID, SyncStateSet: s.SyncStateSet})
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// watchGroup follows the controller's view of g by long polls until ctx
// ends, recording every change.
func (c *cluster) watchGroup(ctx context.Context, g *group) {
	index := int64(-1)
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 12*time.Second)
		v, ans, err := c.admin.PollGroup(pctx, c.name, g.name, index, 10*time.Second)
		cancel()
		if err != nil {
			index = -1
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		index, _ = ans.Index()
		now := time.Now()
		var master int64
		if v.MasterBrokerID != nil {
			master = *v.MasterBrokerID
		}
		c.rec.add(observation{At: now, Group: g.name, Source: controllerSource, Epoch: v.MasterEpoch, Master: master,
			SyncStateSet: v.SyncStateSet})
		g.mu.Lock()
		g.view, g.viewAt = v, now
		close(g.changed)
		g.changed = make(chan struct{})
		g.mu.Unlock()
	}
}

// waitView waits until the controller's view of g satisfies cond, and
// returns that view and when the long poll brought it.
func (g *group) waitView(t *testing.T, what string, timeout time.Duration, cond func(*client.Group) bool) (*client.Group, time.Time) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		g.mu.Lock()
		v, at, changed := g.view, g.viewAt, g.changed
		g.mu.Unlock()
		if v != nil && cond(v) {
			return v, at
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: not within %s: %s; the controller's view: %+v", g.name, timeout, what, v)
		}
	}
}

// fullSet: a master, and the group's three brokers alive and in the
// SyncStateSet.
func fullSet(v *client.Group) bool {
	if v.MasterBrokerID == nil || len(v.Brokers) != brokersPerGroup || len(v.SyncStateSet) != brokersPerGroup {
		return false
	}
	for _, b := range v.Brokers {
		if !b.Alive {
			return false
		}
	}
	return true
}

// master returns the broker the view names master.
func (g *group) master(t *testing.T, v *client.Group) *broker {
	t.Helper()
	for _, b := range v.Brokers {
		if v.MasterBrokerID != nil && b.BrokerID == *v.MasterBrokerID {
			for _, sim := range g.brokers {
				if sim.registered == b.Address {
					return sim
				}
			}
		}
	}
	t.Fatalf("%s: no broker is the master of %+v", g.name, v)
	return nil
}

// kill kills the broker as kill -9 does, after keeping what it truncated,
// and returns when it sent the kill.
func (b *broker) kill() time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if entries, err := truncatedBy(ctx, b.addr); err == nil {
		b.group.mu.Lock()
		b.group.truncated = append(b.group.truncated, entries...)
		b.group.mu.Unlock()
	}
	killed := time.Now()
	b.node.kill()
	return killed
}

func truncatedBy(ctx context.Context, addr string) ([]brokersim.Entry, error) {
	var l brokersim.LogAnswer
	err := getJSONCtx(ctx, "http://"+addr+"/truncated", &l)
	return l.Entries, err
}

// status reads a broker's status; zero when it does not answer.
func (b *broker) status() brokersim.Status {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, _ := brokersim.ReadStatus(ctx, http.DefaultClient, b.addr)
	return s
}

// readAcks reads the producer's acknowledgements so far.
func (g *group) readAcks(t *testing.T) []brokersim.Ack {
	t.Helper()
	data, err := os.ReadFile(g.acks)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var acks []brokersim.Ack
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		var a brokersim.Ack
		if json.Unmarshal(s.Bytes(), &a) == nil { // a torn last line is not one yet
			acks = append(acks, a)
		}
	}
	return acks
}

// check checks the invariants over everything recorded since the cluster
// started: the observations, and the logs of every running broker, which
// must hold every message acknowledged so far once they caught up.
func (c *cluster) check(t *testing.T) {
	t.Helper()
	h := &history{acks: map[string][]brokersim.Ack{}, truncated: map[string][]brokersim.Entry{}}
	for _, g := range c.groups {
		acks := g.readAcks(t)
		h.acks[g.name] = acks
		need := int64(0)
		for _, a := range acks {
			need = max(need, a.Offset+1)
		}
		for _, b := range g.brokers {
			if !b.running() {
				continue
			}
			waitFor(t, b.name+" caught up", 20*time.Second, func() bool {
				s := b.status()
				return s.Role != "" && s.MaxOffset >= need
			})
			var l brokersim.LogAnswer
			if err := getJSON(fmt.Sprintf("http://%s/log?limit=%d", b.addr, need), &l); err != nil {
				t.Fatal(err)
			}
			h.logs = append(h.logs, brokerLog{group: g.name, source: b.name, entries: l.Entries})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			truncated, err := truncatedBy(ctx, b.addr)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			h.truncated[g.name] = append(h.truncated[g.name], truncated...)
		}
		g.mu.Lock()
		h.truncated[g.name] = append(h.truncated[g.name], g.truncated...)
		g.mu.Unlock()
		t.Logf("%s: %d acknowledged messages, %d truncated entries", g.name, len(acks), len(h.truncated[g.name]))
	}
	h.observations = c.rec.since(c.started)
	for _, v := range h.violations() {
		t.Error(v)
	}
	if t.Failed() {
		var lines []string
		for _, o := range h.observations {
			lines = append(lines, o.String())
		}
		t.Logf("history:\n%s", strings.Join(lines, "\n"))
	}
}

// epochChanges returns the observations since from whose masterEpoch is
// not the one each source reported first in that window: role changes.
func (c *cluster) epochChanges(from time.Time) []observation {
	first := map[string]int64{}
	var out []observation
	for _, o := range c.rec.since(from) {
		key := o.Group + "/" + o.Source
		if e, ok := first[key]; !ok {
			first[key] = o.Epoch
		} else if o.Epoch != e {
			out = append(out, o)
		}
	}
	return out
}

// waitFor polls cond every 20 ms until it holds, or fails the test.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
	}
}

func getJSON(url string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return getJSONCtx(ctx, url, out)
}

func getJSONCtx(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
