package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/client"
)

// embeddedReplica is a controller replica whose embedded etcd member is
// one of a three-member cluster.
type embeddedReplica struct {
	name, dataDir, clientURL, peerURL string
}

// startEmbeddedCluster starts three controller replicas forming a
// three-member embedded etcd, and the two groups of brokers on them.
func startEmbeddedCluster(t *testing.T) (*cluster, []embeddedReplica, string) {
	t.Helper()
	c := &cluster{name: "e2e", dir: t.TempDir(), rec: newRecorder(), started: time.Now()}
	var members []embeddedReplica
	var initial []string
	for i := range 3 {
		r := embeddedReplica{name: fmt.Sprintf("c%d", i+1), dataDir: filepath.Join(c.dir, fmt.Sprintf("c%d.data", i+1)),
			clientURL: "http://" + freeAddr(t), peerURL: "http://" + freeAddr(t)}
		members = append(members, r)
		initial = append(initial, r.name+"="+r.peerURL)
	}
	cluster := strings.Join(initial, ",")
	for _, r := range members {
		listen := freeAddr(t)
		c.urls = append(c.urls, "http://"+listen)
		c.controllers = append(c.controllers, newProcess(t, c.dir, "controller-"+r.name, binary, "serve",
			"--listen", listen, "--replica-id", r.name, "--data-dir", r.dataDir,
			"--embedded-client-url", r.clientURL, "--embedded-peer-url", r.peerURL,
			"--embedded-initial-cluster", cluster, "--shutdown-timeout", "5s"))
	}
	c.waitControllers(t)
	c.startGroups(t)
	return c, members, cluster
}

// ledgerlessCmd runs a ledgerless command to its end and returns its
// standard output.
func ledgerlessCmd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ledgerless %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestDisasterDrill is the drill of docs/day2.md: a snapshot is saved
// while the brokers run; a group fails over after it, so its brokers know
// epochs the snapshot does not; then every replica dies and every etcd
// member's data is lost. Each member is restored from the snapshot and
// the replicas started again. The restore fence must keep every epoch
// going up: each group gets a master above every epoch seen before the
// disaster, the brokers resume under it (producers acknowledged writes
// again), and over the whole recorded history there is at most one master
// per epoch, no epoch went down and no acknowledged message was lost.
func TestDisasterDrill(t *testing.T) {
	c, members, initial := startEmbeddedCluster(t)

	snap := filepath.Join(c.dir, "backup.db")
	out := ledgerlessCmd(t, "snapshot", "save", snap, "--etcd-endpoints", members[0].clientURL)
	t.Logf("snapshot save: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "saved "+snap) {
		t.Fatalf("snapshot save printed %q", out)
	}

	// After the snapshot, g1 fails over and its old master rejoins: g1's
	// brokers now know an epoch the snapshot does not.
	k := c.failover(t, c.groups[0], heartbeatTimeout)
	k.old.start(t)
	c.groups[0].waitView(t, "the old master back in the SyncStateSet", 60*time.Second, fullSet)
	before := map[string]int64{}
	for _, g := range c.groups {
		v, _ := g.waitView(t, "a master", 10*time.Second, func(v *client.Group) bool { return v.MasterBrokerID != nil })
		before[g.name] = v.MasterEpoch
	}

	// The disaster: every replica killed, every member's data gone.
	for _, p := range c.controllers {
		p.kill()
	}
	disaster := time.Now()
	acksBefore := map[string]int{}
	for _, g := range c.groups {
		acksBefore[g.name] = len(g.readAcks(t))
	}
	for _, r := range members {
		if err := os.RemoveAll(r.dataDir); err != nil {
			t.Fatal(err)
		}
		out := ledgerlessCmd(t, "snapshot", "restore", snap, "--data-dir", r.dataDir, "--embedded-name", r.name,
			"--embedded-peer-url", r.peerURL, "--embedded-initial-cluster", initial)
		t.Logf("snapshot restore %s: %s", r.name, strings.TrimSpace(out))
	}
	restarted := time.Now()
	for _, p := range c.controllers {
		p.start(t)
	}
	c.waitControllers(t)
	t.Logf("replicas ready %s after their start on the restored members", time.Since(restarted).Round(time.Millisecond))

	for _, g := range c.groups {
		v, _ := g.waitView(t, "a master above every epoch before the disaster, all brokers in sync", 60*time.Second, func(v *client.Group) bool {
			return v.MasterEpoch > before[g.name] && fullSet(v)
		})
		t.Logf("%s: masterEpoch %d before the disaster, %d after the restore, elected %s after the replicas started",
			g.name, before[g.name], v.MasterEpoch, c.electedAt(t, g, v.MasterEpoch).Sub(restarted).Round(time.Millisecond))
		waitFor(t, g.name+" writes acknowledged after the restore", 30*time.Second, func() bool {
			return len(g.readAcks(t)) > acksBefore[g.name]+10
		})
		c.requireRestoredEntry(t, g)
	}
	for _, r := range members {
		if _, err := os.Stat(filepath.Join(r.dataDir, "restore-fence.json")); !os.IsNotExist(err) {
			t.Errorf("%s: the restore fence is still pending (%v)", r.name, err)
		}
	}
	if since := c.epochChanges(disaster); len(since) == 0 {
		t.Errorf("no role change recorded after the restore")
	}
	c.check(t)
}

// requireRestoredEntry requires that g's history records the fence exactly
// once, however many replicas were restored.
func (c *cluster) requireRestoredEntry(t *testing.T, g *group) {
	t.Helper()
	var h struct {
		Items []struct {
			MasterEpoch int64  `json:"masterEpoch"`
			Reason      string `json:"reason"`
		} `json:"items"`
	}
	if _, err := c.admin.Call(context.Background(), http.MethodGet, client.GroupPath(c.name, g.name, "history")+"?limit=100", nil, &h); err != nil {
		t.Fatalf("%s: history: %v", g.name, err)
	}
	n := 0
	for _, e := range h.Items {
		if e.Reason == "restored" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s: %d restored entries in the history, want 1: %+v", g.name, n, h.Items)
	}
}

// startEtcd runs a single-member etcd on dataDir, as an external etcd.
func startEtcd(t *testing.T, dir, dataDir, name, clientURL, peerURL string) *etcdMember {
	t.Helper()
	m := &etcdMember{name: name, clientURL: clientURL, process: newProcess(t, dir, "etcd-"+name+"-"+filepath.Base(dataDir), etcdBinary,
		"--name", name, "--data-dir", dataDir, "--listen-client-urls", clientURL,
		"--advertise-client-urls", clientURL, "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", name+"="+peerURL, "--log-level", "error", "--unsafe-no-fsync")}
	m.waitHealthy(t)
	return m
}

// TestRestoreExternalEtcd is the external-etcd procedure of docs/day2.md:
// an etcd restored from a snapshot (here with ledgerless snapshot restore,
// which writes an ordinary etcd member) and fenced with ledgerless
// snapshot fence before a replica runs on it. The group's master of the
// snapshot is not presented again: the group elects above the fence once
// its broker reports, and fencing again changes nothing.
func TestRestoreExternalEtcd(t *testing.T) {
	dir := t.TempDir()
	clientURL, peerURL := "http://"+freeAddr(t), "http://"+freeAddr(t)
	etcd := startEtcd(t, dir, filepath.Join(dir, "before"), "e1", clientURL, peerURL)
	replica := serve(t, "--etcd-endpoints", clientURL, "--replica-id", "r1")
	tr, err := client.NewTransport(client.TransportOptions{Controllers: []string{replica.url}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var reg struct {
		BrokerID int64 `json:"brokerId"`
	}
	if _, err := tr.Call(ctx, http.MethodPost, client.GroupPath("c", "g", "brokers"),
		map[string]any{"address": "127.0.0.1:1", "registerCode": "b1", "heartbeatTimeoutMs": 2000}, &reg); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "backup.db")
	ledgerlessCmd(t, "snapshot", "save", snap, "--etcd-endpoints", clientURL)
	replica.stop(t)
	etcd.kill()

	restored := filepath.Join(dir, "restored")
	ledgerlessCmd(t, "snapshot", "restore", snap, "--data-dir", restored, "--embedded-name", "e1", "--embedded-peer-url", peerURL)
	if err := os.Remove(filepath.Join(restored, "restore-fence.json")); err != nil {
		t.Fatal(err) // an external etcd is fenced by the command, not by a replica
	}
	startEtcd(t, dir, filepath.Join(restored, "etcd"), "e1", clientURL, peerURL)
	if out := ledgerlessCmd(t, "snapshot", "fence", snap, "--etcd-endpoints", clientURL); !strings.Contains(out, "applied: 1 groups, epochs +1000") {
		t.Fatalf("snapshot fence: %q", out)
	}
	if out := ledgerlessCmd(t, "snapshot", "fence", snap, "--etcd-endpoints", clientURL); !strings.Contains(out, "nothing changed") {
		t.Fatalf("snapshot fence again: %q", out)
	}

	replica = serve(t, "--etcd-endpoints", clientURL, "--replica-id", "r1")
	tr, err = client.NewTransport(client.TransportOptions{Controllers: []string{replica.url}})
	if err != nil {
		t.Fatal(err)
	}
	var g client.Group
	if _, err := tr.Call(ctx, http.MethodGet, client.GroupPath("c", "g"), nil, &g); err != nil {
		t.Fatal(err)
	}
	if g.MasterBrokerID != nil || g.MasterEpoch != 1001 {
		t.Fatalf("fenced group: master %v at masterEpoch %d; want none at 1001", g.MasterBrokerID, g.MasterEpoch)
	}
	var beat struct {
		MasterBrokerID *int64 `json:"masterBrokerId"`
		MasterEpoch    int64  `json:"masterEpoch"`
	}
	waitFor(t, "the broker elected above the fence", 20*time.Second, func() bool {
		_, err := tr.Call(ctx, http.MethodPut, client.GroupPath("c", "g", "brokers", fmt.Sprint(reg.BrokerID), "heartbeat"),
			map[string]any{"address": "127.0.0.1:1", "epoch": 1, "maxOffset": 10, "heartbeatTimeoutMs": 2000}, &beat)
		return err == nil && beat.MasterBrokerID != nil && *beat.MasterBrokerID == reg.BrokerID && beat.MasterEpoch == 1002
	})
}
