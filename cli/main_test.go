package cli_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/internal/logtest"
	"github.com/ledgerless/ledgerless/metrics"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// newServer runs one controller replica "r1" on a key prefix of its own,
// registered as a replica the way serve registers it, serves its API on a
// real listener and returns the base URL.
func newServer(t *testing.T) string {
	t.Helper()
	st := storetest.Open(t, storetest.Prefix(t))
	svc := service.New(service.Options{Store: st, ReplicaID: "r1"})
	srv := httptest.NewServer(handlers.New(svc, slog.New(slog.DiscardHandler), metrics.New(), nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- svc.Run(ctx) }()
	go func() {
		done <- st.RunReplica(ctx, ledgerless.Replica{ID: "r1", Address: srv.URL, Version: "test", StartedAt: time.Now()},
			func(err error) { t.Logf("replica presence: %v", err) })
	}()
	t.Cleanup(func() {
		svc.Drain()
		srv.Close()
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("replica: %v", err)
			}
		}
	})
	// Long polls and indexes depend on the etcd watch; wait for it and for
	// the replica's presence.
	eventually(t, func() bool {
		return svc.Hub().ConnectedFor() > 0 && strings.Contains(string(call(t, "GET", srv.URL+"/v1/controller", "")), `"alive":true`)
	})
	return srv.URL
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}

// call sends a plain HTTP request, as a broker would, and requires a 2xx.
func call(t *testing.T, method, url, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return b
}

// register registers a broker that stays alive for the whole test.
func register(t *testing.T, base, cluster, group, code, address string) {
	t.Helper()
	call(t, "POST", fmt.Sprintf("%s/v1/clusters/%s/groups/%s/brokers", base, cluster, group),
		fmt.Sprintf(`{"address":%q,"registerCode":%q,"heartbeatTimeoutMs":600000}`, address, code))
}

func heartbeat(t *testing.T, base, cluster, group string, id, epoch, maxOffset int64) {
	t.Helper()
	call(t, "PUT", fmt.Sprintf("%s/v1/clusters/%s/groups/%s/brokers/%d/heartbeat", base, cluster, group, id),
		fmt.Sprintf(`{"epoch":%d,"maxOffset":%d,"confirmOffset":%d,"electionPriority":%d}`, epoch, maxOffset, maxOffset-24, id))
}

// seed makes cluster c1: group g1 with master 1 and slave 2, both in the
// SyncStateSet, and group g2 with one broker.
func seed(t *testing.T, base string) {
	t.Helper()
	register(t, base, "c1", "g1", "code-a", "10.0.0.1:10911")
	register(t, base, "c1", "g1", "code-b", "10.0.0.2:10911")
	heartbeat(t, base, "c1", "g1", 1, 1, 1024)
	heartbeat(t, base, "c1", "g1", 2, 1, 1000)
	call(t, "POST", base+"/v1/clusters/c1/groups/g1/sync-state-set",
		`{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`)
	register(t, base, "c1", "g2", "code-c", "10.0.1.1:10911")
}

// result is what one command run produced.
type result struct {
	stdout, stderr string
	err            error
	code           int
}

// invocation runs the CLI as main does, on a root of its own.
type invocation struct {
	ctx      context.Context
	stdin    string
	terminal bool
	env      map[string]string
	stdout   *logtest.Buffer // to read output while the command runs
	stderr   *logtest.Buffer
}

// run runs the CLI with args.
func run(args ...string) result { return invocation{}.run(args...) }

func (inv invocation) run(args ...string) result {
	root := &cobra.Command{Use: "ledgerless", SilenceErrors: true, SilenceUsage: true}
	cli.Register(root, cli.Options{Version: "1.2.3-test",
		Getenv:   func(k string) string { return inv.env[k] },
		Terminal: func(io.Reader) bool { return inv.terminal }})
	var stdout, stderr logtest.Buffer
	if inv.stdout == nil {
		inv.stdout = &stdout
	}
	if inv.stderr == nil {
		inv.stderr = &stderr
	}
	root.SetOut(inv.stdout)
	root.SetErr(inv.stderr)
	root.SetIn(strings.NewReader(inv.stdin))
	root.SetArgs(args)
	ctx := inv.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	err := root.ExecuteContext(ctx)
	return result{stdout: inv.stdout.String(), stderr: inv.stderr.String(), err: err, code: cli.ExitCode(err)}
}

// ok requires the run to have succeeded and returns its stdout.
func (r result) ok(t *testing.T) string {
	t.Helper()
	if r.err != nil || r.code != 0 {
		t.Fatalf("exit %d: %v\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails requires the run to have failed with exit code code and an error
// message containing want.
func (r result) fails(t *testing.T, code int, want string) {
	t.Helper()
	if r.code != code || r.err == nil || !strings.Contains(r.err.Error(), want) {
		t.Fatalf("exit %d, error %v; want exit %d and an error containing %q\nstdout:\n%s", r.code, r.err, code, want, r.stdout)
	}
}

var (
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalise replaces times and local ports with placeholders of the same
// width, so that table columns stay aligned as they were printed.
func normalise(s string) string {
	s = timeRE.ReplaceAllStringFunc(s, func(m string) string { return placeholder("TIME", len(m)) })
	return portRE.ReplaceAllStringFunc(s, func(m string) string {
		return "127.0.0.1:" + strings.Repeat("N", len(m)-len("127.0.0.1:"))
	})
}

func placeholder(name string, width int) string {
	if width <= len(name) {
		return name
	}
	return name + strings.Repeat("_", width-len(name))
}

// golden compares normalised output with testdata/name.golden, or writes
// it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got = normalise(got)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cli -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}
