package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/client"
)

// TestTryScript runs examples/try.sh, the README's "Try it", against a
// fresh controller with an embedded etcd, as a newcomer would: it must
// exit 0, show both failovers (a resignation, then a master whose lease
// ran out) and leave no heartbeat loop behind.
func TestTryScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("try.sh needs curl (.ci/run installs it)")
	}
	p := serve(t, "--data-dir", t.TempDir(), "--replica-id", "try",
		"--embedded-client-url", "http://"+freeAddr(t), "--embedded-peer-url", "http://"+freeAddr(t))
	script, err := filepath.Abs("../examples/try.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(cmd.Environ(), "LEDGERLESS_URL="+p.url, "LEDGERLESS="+binary)
	cmd.WaitDelay = 5 * time.Second // the pipes close even if a loop were left behind
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("try.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"master: broker 1, masterEpoch 1, X-Ledgerless-Index: ",
		"DELETE lease: 204",
		"master: broker 2, masterEpoch 2 (resigned)",
		"master: broker 1, masterEpoch 3 (lease expired",
		`"reason":"master-resigned"`,
		`"reason":"master-lost"`,
		"try.sh: ok",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("try.sh printed no %q:\n%s", want, out)
		}
	}
	// Its heartbeat loops stopped with it: broker 1, the master, has no
	// heartbeats any more, so its lease runs out and nobody replaces it.
	time.Sleep(4 * time.Second)
	resp, err := http.Get(p.url + client.GroupPath("c1", "g1"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var g client.Group
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		t.Fatal(err)
	}
	for _, b := range g.Brokers {
		if b.Alive {
			t.Errorf("broker %d still alive 4 s after try.sh exited: a heartbeat loop outlived it", b.BrokerID)
		}
	}
}
