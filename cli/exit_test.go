package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// dead is a URL nothing listens on.
func dead() string { return "http://" + storetest.FreeAddr() }

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"groups", "c1", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"groups"}, "missing CLUSTER"},
		{[]string{"group", "get", "c1"}, "missing GROUP"},
		{[]string{"elect"}, "missing CLUSTER and GROUP"},
		{[]string{"groups", "c1", "g1"}, `unexpected argument "g1"`},
		{[]string{"grops", "c1"}, `unknown command "grops" for "ledgerless" (did you mean "groups"?)`},
		{[]string{"group", "list"}, `unknown command "list" for "ledgerless group"`},
		{[]string{"clusters", "-o", "xml"}, `--output "xml"`},
		{[]string{"clusters", "--timeout", "0s"}, "--timeout 0s"},
		{[]string{"clusters", "--timeout", "soon"}, `invalid argument "soon"`},
		{[]string{"clusters", "--controller", "ftp://x"}, `controller URL "ftp://x"`},
		{[]string{"elect", "c1", "g1", "--broker", "0", "--yes"}, "--broker 0"},
		{[]string{"clean", "c1", "g1", "--broker", "x", "--yes"}, `invalid argument "x"`},
		{[]string{"history", "c1", "g1", "--limit", "0"}, "--limit 0"},
		{[]string{"config", "set", "x"}, `"x": want KEY=VALUE`},
	} {
		r := run(append([]string{"--controller", dead()}, tc.args...)...)
		r.fails(t, cli.ExitUsage, tc.want)
		if !strings.Contains(r.err.Error(), "--help' for usage.") {
			t.Errorf("%v: no pointer to help in %q", tc.args, r.err)
		}
	}
}

func TestUnavailable(t *testing.T) {
	run("--controller", dead(), "clusters").fails(t, cli.ExitUnavailable, "connection refused")
	run("--controller", dead()+","+dead(), "groups", "c1").fails(t, cli.ExitUnavailable, "no controller answered:")
	run("health", "--url", dead()).fails(t, cli.ExitUnavailable, "is not ready")
	invocation{env: map[string]string{cli.ControllerEnv: dead()}}.run("health").fails(t, cli.ExitUnavailable, "is not ready")

	// A controller that never answers: --timeout ends the command.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	start := time.Now()
	run("--controller", hang.URL, "--timeout", "200ms", "clusters").fails(t, cli.ExitUnavailable, "no answer within 200ms (--timeout)")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("--timeout 200ms took %s", d)
	}
}

func TestFailover(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	if out := run("--controller", dead()+","+base, "groups", "c1").ok(t); !strings.Contains(out, "g1") {
		t.Errorf("groups via the second controller:\n%s", out)
	}
	env := invocation{env: map[string]string{cli.ControllerEnv: dead() + "," + base}}
	if out := env.run("clusters").ok(t); !strings.Contains(out, "c1") {
		t.Errorf("clusters via %s:\n%s", cli.ControllerEnv, out)
	}
	// A POST goes on to the next controller only when the first was never reached.
	run("--controller", dead()+","+base, "elect", "c1", "g1", "--broker", "2", "--yes").ok(t)

	// A 5xx answer: GET goes on to the next controller, POST does not,
	// since the first may have acted on it.
	var posts atomic.Int64
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"type":"urn:ledgerless:problem:unavailable","title":"etcd is unavailable","status":503,"detail":"etcd: no leader","code":"UNAVAILABLE","rocketmqCode":1}`))
	}))
	defer sick.Close()
	run("--controller", sick.URL+","+base, "groups", "c1").ok(t)
	run("--controller", sick.URL+","+base, "elect", "c1", "g1", "--broker", "1", "--yes").
		fails(t, cli.ExitUnavailable, "etcd is unavailable (UNAVAILABLE): etcd: no leader")
	if posts.Load() != 1 {
		t.Errorf("%d POSTs to the sick controller, want 1", posts.Load())
	}
	run("--controller", sick.URL, "health", "--url", sick.URL).fails(t, cli.ExitUnavailable, "(UNAVAILABLE)")
}

func TestHealth(t *testing.T) {
	base := newServer(t)
	if out := run("health", "--url", base).ok(t); !strings.Contains(out, "is ready") {
		t.Errorf("health: %q", out)
	}
	if out := run("--controller", dead()+","+base, "health", "--url", base, "-o", "json").ok(t); !strings.Contains(out, `"ready"`) {
		t.Errorf("health -o json: %q", out)
	}
	// --url alone decides; --controller and its environment do not matter.
	invocation{env: map[string]string{cli.ControllerEnv: "not a URL"}}.run("health", "--url", base).ok(t)
	run("health", "--url", "ftp://x").fails(t, cli.ExitUsage, `--url: controller URL "ftp://x"`)
	// A URL that answers, but not as a ready replica, is not healthy.
	run("health", "--url", base+"/nothing").fails(t, cli.ExitUnavailable, "is not ready")
}
