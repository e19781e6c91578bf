package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/client"
)

// The docker tests run the deployment operators meet first: the images
// built FROM scratch and docker-compose.yml (or the embedded-etcd compose
// file), under a compose project of their own, on loopback ports of their
// own. They need a Docker daemon and docker-compose; without them they
// are skipped, except in CI, where that is a failure.

// demoHeartbeatTimeout is the REST brokers' heartbeat timeout in the
// compose files (each heartbeats every second); demoRocketMQTimeout is
// controllerHeartBeatTimeoutMills in the broker.conf of the RocketMQ
// group's brokers (deployments/rocketmq).
const (
	demoHeartbeatTimeout = 3 * time.Second
	demoRocketMQTimeout  = 5 * time.Second
)

// demoGroup is one of the compose demo's broker groups: its name, its
// services' prefix (broker-a1, ...) and the protocol its brokers speak.
type demoGroup struct {
	name, letter, protocol string
	timeout                time.Duration
}

// demoGroups are the demo's groups: two of REST brokers, and broker-r of
// RocketMQ's protocol, whose brokers are set up by a broker.conf each.
var demoGroups = []demoGroup{
	{"broker-a", "a", brokersim.ProtocolREST, demoHeartbeatTimeout},
	{"broker-b", "b", brokersim.ProtocolREST, demoHeartbeatTimeout},
	{"broker-r", "r", brokersim.ProtocolRocketMQ, demoRocketMQTimeout},
}

// requireDocker skips or fails t when Docker cannot run the deployment.
func requireDocker(t *testing.T) {
	t.Helper()
	for _, probe := range [][]string{{"docker", "info"}, {"docker-compose", "version"}} {
		if out, err := exec.Command(probe[0], probe[1:]...).CombinedOutput(); err != nil {
			msg := fmt.Sprintf("%s: %v\n%s", strings.Join(probe, " "), err, lastLines(out, 5))
			if os.Getenv("CI") != "" {
				t.Fatalf("the docker tests need a Docker daemon and docker-compose: %s", msg)
			}
			t.Skipf("no usable Docker (the docker tests run in CI): %s", msg)
		}
	}
}

var buildImages = sync.OnceValue(func() error {
	// The build context holds only what deployments/Dockerfile.prebuilt copies: the
	// binaries TestMain built (static, CGO_ENABLED=0) and the root file
	// system skeleton.
	ctx, err := os.MkdirTemp("", "ledgerless-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctx)
	for _, bin := range []string{binary, brokersimBinary, etcdBinary} {
		if err := link(bin, filepath.Join(ctx, "bin", filepath.Base(bin))); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(ctx, "deployments", "rootfs", "data"), 0o755); err != nil {
		return err
	}
	for _, target := range []string{"ledgerless", "brokersim", "etcd"} {
		cmd := exec.Command("docker", "build", "-q", "-f", "../deployments/Dockerfile.prebuilt", "--target", target,
			"-t", "ledgerless/"+target+":local", ctx)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker build %s: %v\n%s", target, err, out)
		}
	}
	return nil
})

// link puts a hard link (or else a copy) of src at dst.
func link(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if os.Link(src, dst) == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// compose runs docker-compose on a project of the test's own.
type compose struct {
	project string
	files   []string
	env     []string
}

// run runs a docker-compose command and returns its output.
func (c *compose) run(args ...string) (string, error) {
	var argv []string
	for _, f := range c.files {
		argv = append(argv, "-f", f)
	}
	cmd := exec.Command("docker-compose", append(append([]string{"-p", c.project}, argv...), args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, lastLines(errOut.Bytes(), 20))
	}
	return strings.TrimSpace(out.String()), nil
}

func (c *compose) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// container is one service's container; it runs a broker, a controller or
// an etcd member.
type container struct {
	compose *compose
	service string
	id      string
}

// docker runs a docker command on the container; the docker CLI answers
// much sooner than docker-compose's.
func (c *container) docker(args ...string) error {
	if out, err := exec.Command("docker", append(args, c.id)...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker %s %s: %v: %s", strings.Join(args, " "), c.service, err, lastLines(out, 5))
	}
	return nil
}

func (c *container) start(t *testing.T) {
	t.Helper()
	if err := c.docker("start"); err != nil {
		t.Fatal(err)
	}
}

func (c *container) running() bool {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", c.id).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// kill kills the container's process at once (SIGKILL).
func (c *container) kill() { _ = c.docker("kill", "-s", "KILL") }

// stop stops the container gracefully: SIGTERM, then SIGKILL after within.
// It fails when the process needed the SIGKILL.
func (c *container) stop(within time.Duration) error {
	if err := c.docker("stop", "-t", fmt.Sprint(int(within.Seconds()))); err != nil {
		return err
	}
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.ExitCode}}", c.id).Output()
	if err != nil {
		return err
	}
	if code := strings.TrimSpace(string(out)); code == "137" {
		return fmt.Errorf("%s did not stop within %s of SIGTERM (exit code 137: killed)", c.service, within)
	}
	return nil
}

func (c *container) signal(sig syscall.Signal) {
	_ = c.docker("kill", "-s", fmt.Sprint(int(sig)))
}

// network is the compose project's network.
func (c *container) network() string { return c.compose.project + "_default" }

// disconnect cuts the container off the others: a network partition.
func (c *container) disconnect(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "network", "disconnect", c.network(), c.id).CombinedOutput(); err != nil {
		t.Fatalf("disconnect %s: %v: %s", c.service, err, out)
	}
}

// connect heals the partition; the service's name resolves to it again.
func (c *container) connect(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "network", "connect", "--alias", c.service, c.network(), c.id).CombinedOutput(); err != nil {
		t.Fatalf("connect %s: %v: %s", c.service, err, out)
	}
}

// deployment is a compose deployment under test, seen as a cluster.
type deployment struct {
	*cluster
	compose     *compose
	controllers []*container
	etcd        []*container // none when the controllers embed etcd
	producers   []*container // the demo's own producers (the tests check their own)
}

// startDeployment builds the images, brings up the compose files under a
// project of the test's own, and waits until both groups have a master
// with every broker in the SyncStateSet and acknowledged writes from the
// test's own producers. The project is taken down with its volumes when
// the test ends, whatever happened.
func startDeployment(t *testing.T, files ...string) *deployment {
	t.Helper()
	requireDocker(t)
	if err := buildImages(); err != nil {
		t.Fatal(err)
	}
	d := &deployment{cluster: &cluster{name: "DefaultCluster", dir: t.TempDir(), rec: newRecorder(), started: time.Now()}}
	d.compose = &compose{project: fmt.Sprintf("ledgerless-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6), files: files,
		env: []string{"BROKERSIM_HEARTBEAT_TIMEOUT=" + demoHeartbeatTimeout.String(), "LEDGERLESS_LOG_FORMAT=text"}}
	port := func(name string) string {
		addr := freeAddr(t)
		d.compose.env = append(d.compose.env, name+"="+strings.TrimPrefix(addr, "127.0.0.1:"))
		return addr
	}
	for i := range 3 {
		d.urls = append(d.urls, "http://"+port(fmt.Sprintf("LEDGERLESS_PORT_%d", i+1)))
	}
	brokerAddrs := map[string]string{}
	for _, g := range demoGroups {
		for i := range brokersPerGroup {
			brokerAddrs[fmt.Sprintf("%s%d", g.name, i+1)] = port(fmt.Sprintf("BROKER_%s%d_PORT", strings.ToUpper(g.letter), i+1))
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := d.compose.run("logs", "--no-color", "--tail", "40")
			t.Logf("--- the deployment's logs:\n%s", logs)
		}
		if _, err := d.compose.run("down", "-v", "-t", "10", "--remove-orphans"); err != nil {
			t.Errorf("take the deployment down: %v", err)
		}
	})
	d.compose.must(t, "up", "-d", "--no-build")
	service := func(name string) *container {
		return &container{compose: d.compose, service: name, id: d.compose.must(t, "ps", "-q", name)}
	}
	for i := range 3 {
		d.controllers = append(d.controllers, service(fmt.Sprintf("ctl%d", i+1)))
	}
	services := strings.Fields(d.compose.must(t, "config", "--services"))
	var groups []demoGroup
	for _, g := range demoGroups {
		if slices.Contains(services, g.name+"1") {
			groups = append(groups, g)
			d.producers = append(d.producers, service("producer-"+g.letter))
		}
	}
	if slices.Contains(services, "etcd1") {
		for i := range 3 {
			d.etcd = append(d.etcd, service(fmt.Sprintf("etcd%d", i+1)))
		}
	}
	d.waitControllers(t)
	var err error
	if d.admin, err = client.NewTransport(client.TransportOptions{Controllers: d.urls}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	t.Cleanup(func() { cancel(); workers.Wait() }) // before the deployment goes down
	for _, dg := range groups {
		name := dg.name
		g := &group{name: name, protocol: dg.protocol, timeout: dg.timeout, changed: make(chan struct{}), acks: filepath.Join(d.dir, name+"-acks.jsonl")}
		d.groups = append(d.groups, g)
		var addrs []string
		for i := range brokersPerGroup {
			c := service(fmt.Sprintf("%s%d", name, i+1))
			addr := brokerAddrs[c.service]
			b := &broker{node: c, name: c.service, group: g, addr: addr, registered: c.service + ":10911"}
			g.brokers = append(g.brokers, b)
			addrs = append(addrs, addr)
			workers.Go(func() { d.watchBroker(ctx, b) })
		}
		workers.Go(func() { d.watchGroup(ctx, g) })
		acks, err := os.Create(g.acks)
		if err != nil {
			t.Fatal(err)
		}
		workers.Go(func() {
			defer acks.Close()
			_, _ = brokersim.Produce(ctx, brokersim.ProducerConfig{Brokers: addrs, Prefix: name + "-e2e-",
				Interval: 20 * time.Millisecond, Timeout: 2 * time.Second, Acks: acks})
		})
	}
	for _, g := range d.groups {
		g.waitView(t, "every broker alive and in the SyncStateSet", 120*time.Second, fullSet)
		waitFor(t, "acknowledged writes", 60*time.Second, func() bool { return len(g.readAcks(t)) > 0 })
	}
	return d
}

// brokerContainer is the container of b.
func brokerContainer(b *broker) *container { return b.node.(*container) }

// TestDocker runs the compose demo and fails it over: a killed master
// container in a REST group and in the RocketMQ group, a partitioned master, a stopped etcd member, restarted
// controllers; then every container must stop gracefully on SIGTERM.
func TestDocker(t *testing.T) {
	d := startDeployment(t, "../docker-compose.yml")

	t.Run("kill the master container", func(t *testing.T) { d.killMaster(t, d.groups[0]) })
	t.Run("kill the master container of the RocketMQ group", func(t *testing.T) { d.killMaster(t, d.rocketmqGroup(t)) })

	t.Run("partition the master", func(t *testing.T) {
		g := d.groups[1]
		before, _ := g.waitView(t, "every broker alive and in the SyncStateSet", 60*time.Second, fullSet)
		old := g.master(t, before)
		cut := time.Now()
		brokerContainer(old).disconnect(t)
		after, seen := g.waitView(t, "a new master", 30*time.Second, func(v *client.Group) bool {
			return v.MasterEpoch > before.MasterEpoch && v.MasterBrokerID != nil
		})
		t.Logf("partitioned master: new master %d seen after %s", *after.MasterBrokerID, seen.Sub(cut))
		time.Sleep(time.Until(cut.Add(2 * demoHeartbeatTimeout)))
		brokerContainer(old).connect(t)
		waitFor(t, "the old master a slave at the new epoch", 30*time.Second, func() bool {
			s := old.status()
			return s.Role == ledgerless.RoleSlave && s.MasterEpoch >= after.MasterEpoch
		})
		g.waitView(t, "the old master back in the SyncStateSet", 60*time.Second, fullSet)
		d.check(t)
	})

	t.Run("stop an etcd member", func(t *testing.T) {
		from := time.Now()
		member := d.etcd[1]
		if err := member.stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * d.longestTimeout())
		for _, g := range d.groups {
			g.waitView(t, "every broker alive", 10*time.Second, fullSet)
		}
		member.start(t)
		time.Sleep(demoHeartbeatTimeout)
		for _, o := range d.epochChanges(from) {
			t.Errorf("role change while etcd member %s was down: %s", member.service, o)
		}
	})

	t.Run("restart every controller", func(t *testing.T) {
		from := time.Now()
		d.compose.must(t, "restart", "-t", "10", "ctl1", "ctl2", "ctl3")
		d.waitControllers(t)
		time.Sleep(2*d.longestTimeout() + time.Second) // past the elections' grace after connecting
		for _, g := range d.groups {
			g.waitView(t, "every broker alive again", 10*time.Second, fullSet)
		}
		for _, o := range d.epochChanges(from) {
			t.Errorf("role change while the controllers restarted: %s", o)
		}
		d.check(t)
	})

	t.Run("every container stops on SIGTERM", func(t *testing.T) {
		all := append(append(append(d.producers, brokerContainers(d)...), d.controllers...), d.etcd...)
		for _, c := range all {
			if err := c.stop(10 * time.Second); err != nil {
				t.Error(err)
			}
		}
	})
}

// TestDockerEmbedded runs the demo whose controllers form their own etcd
// cluster, and kills a master container of a REST group and of the
// RocketMQ group.
func TestDockerEmbedded(t *testing.T) {
	d := startDeployment(t, "../deployments/docker-compose.embedded.yml")
	t.Run("kill the master container", func(t *testing.T) { d.killMaster(t, d.groups[0]) })
	t.Run("kill the master container of the RocketMQ group", func(t *testing.T) { d.killMaster(t, d.rocketmqGroup(t)) })
}

// rocketmqGroup is the demo's group of RocketMQ-protocol brokers.
func (d *deployment) rocketmqGroup(t *testing.T) *group {
	t.Helper()
	for _, g := range d.groups {
		if g.protocol == brokersim.ProtocolRocketMQ {
			return g
		}
	}
	t.Fatal("the demo has no group of RocketMQ's protocol")
	return nil
}

// killMaster kills the container of g's master: a member of the
// SyncStateSet must be master within the heartbeat timeout plus 1 s, and
// act as master (a RocketMQ-protocol broker learns it from NOTIFY or its
// 1004 poll). The old master, started again, rejoins, and nothing
// acknowledged is lost.
func (d *deployment) killMaster(t *testing.T, g *group) {
	k := d.failover(t, g, g.timeout)
	t.Logf("%s: docker kill of the master: new master %d elected after %s, seen by a long poll after %s", g.name, *k.after.MasterBrokerID, k.elected, k.seen)
	next := g.master(t, k.after)
	waitFor(t, "the new master acting as master", 10*time.Second, func() bool {
		s := next.status()
		return s.Role == ledgerless.RoleMaster && s.MasterEpoch == k.after.MasterEpoch
	})
	k.old.start(t)
	g.waitView(t, "the old master back in the SyncStateSet", 60*time.Second, fullSet)
	d.check(t)
}

func brokerContainers(d *deployment) []*container {
	var out []*container
	for _, g := range d.groups {
		for _, b := range g.brokers {
			out = append(out, brokerContainer(b))
		}
	}
	return out
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
