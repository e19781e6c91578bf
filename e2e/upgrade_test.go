package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// previousRelease names the release before this one: its tag, and the
// commit it was cut from, for clones that lack the tag.
var previousRelease = []string{"v0.1.0", "4e60967"}

// buildPreviousRelease builds `ledgerless` of the previous release from
// the repository's history (git archive of the release into a temporary
// directory, go build there). It skips the test when the history does not
// hold the release (a shallow clone); CI runs on a full clone.
func buildPreviousRelease(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("previous release: git is not installed")
	}
	var ref string
	for _, r := range previousRelease {
		if exec.Command("git", "rev-parse", "--verify", "--quiet", r+"^{commit}").Run() == nil {
			ref = r
			break
		}
	}
	if ref == "" {
		t.Skipf("previous release: neither %v is in this clone's history (shallow clone?); fetch the history to run this test", previousRelease)
	}
	src := t.TempDir()
	tarball := filepath.Join(t.TempDir(), "src.tar")
	// From the top of the work tree: in a subdirectory, git archive
	// archives only that subdirectory.
	archive := exec.Command("sh", "-c", `set -e; cd "$(git rev-parse --show-toplevel)"; git archive -o "$1" "$2"; tar -x -f "$1" -C "$3"`,
		"archive", tarball, ref, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", ref, err, out)
	}
	bin := filepath.Join(t.TempDir(), "ledgerless-"+previousRelease[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version="+previousRelease[0], "-o", bin, "./cmd/ledgerless")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", ref, err, out)
	}
	return bin
}

// TestMixedVersionReplicas is a rolling upgrade half done: a replica of
// the previous release and one of this release share one etcd and serve
// the same broker groups. Failovers are elected with both running, with
// only the old one (on records the new one wrote) and with only the new
// one (on records the old one wrote); over the whole history there is at
// most one master per epoch, no epoch goes down and nothing acknowledged
// is lost, and each replica lists the other with its version.
func TestMixedVersionReplicas(t *testing.T) {
	old := buildPreviousRelease(t)
	c := &cluster{name: "e2e", dir: t.TempDir(), rec: newRecorder(), started: time.Now()}
	peer, client := "http://"+freeAddr(t), "http://"+freeAddr(t)
	m := &etcdMember{name: "e1", clientURL: client, process: newProcess(t, c.dir, "etcd-e1", etcdBinary,
		"--name", "e1", "--data-dir", filepath.Join(c.dir, "e1"), "--listen-client-urls", client,
		"--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e1="+peer, "--log-level", "error", "--unsafe-no-fsync")}
	c.etcd = append(c.etcd, m)
	m.waitHealthy(t)
	for i, bin := range []string{old, binary} {
		listen := freeAddr(t)
		c.urls = append(c.urls, "http://"+listen)
		c.controllers = append(c.controllers, newProcess(t, c.dir, fmt.Sprintf("controller-%d", i+1), bin, "serve",
			"--listen", listen, "--replica-id", fmt.Sprintf("c%d", i+1), "--etcd-endpoints", client, "--shutdown-timeout", "5s"))
	}
	c.waitControllers(t)
	c.startGroups(t)
	oldReplica, newReplica := c.controllers[0], c.controllers[1]

	k := c.failover(t, c.groups[0], heartbeatTimeout) // both replicas running
	k.old.start(t)

	newReplica.kill()
	k = c.failover(t, c.groups[1], heartbeatTimeout) // the old release alone
	k.old.start(t)

	newReplica.start(t)
	c.waitControllers(t)
	oldReplica.kill()
	k = c.failover(t, c.groups[0], heartbeatTimeout) // the new release alone
	k.old.start(t)
	oldReplica.start(t)
	c.waitControllers(t)
	for _, g := range c.groups {
		g.waitView(t, "every broker back in the SyncStateSet", 60*time.Second, fullSet)
	}

	for _, u := range c.urls {
		var ctl struct {
			Replicas []struct {
				ID      string `json:"id"`
				Version string `json:"version"`
				Alive   bool   `json:"alive"`
			} `json:"replicas"`
		}
		if err := getJSON(u+"/v1/controller", &ctl); err != nil {
			t.Fatalf("%s/v1/controller: %v", u, err)
		}
		versions := map[string]string{}
		for _, r := range ctl.Replicas {
			if r.Alive {
				versions[r.ID] = r.Version
			}
		}
		if versions["c1"] != previousRelease[0] || versions["c2"] == "" || versions["c2"] == previousRelease[0] {
			t.Errorf("%s lists the alive replicas %v; want c1 at %s and c2 at this release", u, versions, previousRelease[0])
		}
	}
	c.check(t)
}
