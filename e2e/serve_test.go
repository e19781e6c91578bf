// Package e2e runs ledgerless as real processes on 127.0.0.1 and checks
// what an operator would see.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/client"
)

// The binaries under test, built once by TestMain without the race
// detector, so that they run at full speed: ledgerless, brokersim and an
// etcd server built from the official module.
var binary, brokersimBinary, etcdBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ledgerless-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ledgerless")
	brokersimBinary = filepath.Join(dir, "brokersim")
	etcdBinary = filepath.Join(dir, "etcd")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"../cmd/ledgerless", "../cmd/brokersim", "../cmd/etcd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running ledgerless process whose output is kept for failures.
type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	url string
}

// serve starts ledgerless serve with args and waits until it is ready.
func serve(t *testing.T, args ...string) *proc {
	t.Helper()
	p := start(t, args...)
	p.ready(t)
	return p
}

// start starts ledgerless serve with args on a free port.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with environment variables (NAME=value) added.
func startEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	listen := freeAddr(t)
	cmd := exec.Command(binary, append([]string{"serve", "--listen", listen}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: out, url: "http://" + listen}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			t.Logf("output of %v:\n%s", cmd.Args, out)
		}
	})
	return p
}

// ready waits until the replica answers /readyz.
func (p *proc) ready(t *testing.T) {
	t.Helper()
	p.readyVia(t, http.DefaultClient)
}

// readyVia waits until the replica answers /readyz through hc.
func (p *proc) readyVia(t *testing.T, hc *http.Client) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%v ready", p.cmd.Args), 60*time.Second, func() bool { return client.Ready(context.Background(), hc, p.url) })
}

// stop sends SIGTERM and requires a clean exit within the shutdown timeout.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15s of SIGTERM")
	}
}

func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(data, &v)
	return resp.StatusCode, v
}

func TestServeEmbeddedAndSecondReplica(t *testing.T) {
	client := "http://" + freeAddr(t)
	first := serve(t, "--data-dir", t.TempDir(), "--replica-id", "one",
		"--embedded-client-url", client, "--embedded-peer-url", "http://"+freeAddr(t))
	second := serve(t, "--replica-id", "two", "--etcd-endpoints", client)

	status, body := call(t, "POST", first.url+"/v1/clusters/c/groups/g/brokers", `{"address":"127.0.0.1:10911","registerCode":"x"}`)
	if status != http.StatusOK || body["brokerId"] != float64(1) {
		t.Fatalf("register on the first replica: %d %v", status, body)
	}
	status, body = call(t, "GET", second.url+"/v1/clusters/c/groups/g", "")
	if status != http.StatusOK || body["masterBrokerId"] != float64(1) {
		t.Fatalf("group read on the second replica: %d %v", status, body)
	}
	status, body = call(t, "GET", second.url+"/v1/controller", "")
	replicas, _ := body["replicas"].([]any)
	if status != http.StatusOK || len(replicas) != 2 {
		t.Fatalf("controller metadata: %d %v", status, body)
	}
	second.stop(t)
	first.stop(t)
}

// TestServeEmbeddedCluster runs three replicas whose embedded etcd members
// form one cluster among themselves.
func TestServeEmbeddedCluster(t *testing.T) {
	names := []string{"e1", "e2", "e3"}
	peers, clients := make([]string, 3), make([]string, 3)
	var initial []string
	for i, n := range names {
		peers[i], clients[i] = "http://"+freeAddr(t), "http://"+freeAddr(t)
		initial = append(initial, n+"="+peers[i])
	}
	procs := make([]*proc, 3)
	for i, n := range names { // each member waits for a quorum: start all, then wait
		procs[i] = start(t, "--replica-id", n, "--data-dir", t.TempDir(),
			"--embedded-client-url", clients[i], "--embedded-peer-url", peers[i],
			"--embedded-initial-cluster", strings.Join(initial, ","))
	}
	for _, p := range procs {
		p.ready(t)
	}
	status, body := call(t, "POST", procs[0].url+"/v1/clusters/c/groups/g/brokers", `{"address":"127.0.0.1:10911","registerCode":"x"}`)
	if status != http.StatusOK {
		t.Fatalf("register: %d %v", status, body)
	}
	for _, p := range procs {
		if status, body := call(t, "GET", p.url+"/v1/clusters/c/groups/g", ""); status != http.StatusOK || body["masterBrokerId"] != float64(1) {
			t.Fatalf("read on %s: %d %v", p.url, status, body)
		}
	}
	_, body = call(t, "GET", procs[2].url+"/v1/controller", "")
	etcd, _ := body["etcd"].(map[string]any)
	if etcd["embedded"] != true || etcd["leader"] == "" {
		t.Fatalf("controller metadata: %v", body)
	}
	// One member down: the other two keep a quorum and keep serving.
	procs[2].stop(t)
	if status, _ := call(t, "GET", procs[1].url+"/v1/clusters/c/groups/g", ""); status != http.StatusOK {
		t.Fatalf("read with one member down: %d", status)
	}
	procs[1].stop(t)
	procs[0].stop(t)
}

func TestServeHelpAndBadConfig(t *testing.T) {
	out, err := exec.Command(binary, "serve", "--help").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--etcd-endpoints")) || !bytes.Contains(out, []byte("LEDGERLESS_")) ||
		!bytes.Contains(out, []byte("--tracing-exporter")) || !bytes.Contains(out, []byte("LEDGERLESS_TRACING_EXPORTER")) {
		t.Fatalf("serve --help: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "serve", "--tracing-exporter", "zipkin").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`tracing.exporter "zipkin"`)) {
		t.Fatalf("bad tracing exporter: %v\n%s", err, out)
	}
	cmd := exec.Command(binary, "serve", "--log-format", "xml")
	out, err = cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`log-format "xml"`)) {
		t.Fatalf("bad log format: %v\n%s", err, out)
	}
}

// TestServeConfigPrecedence shows flag > environment > file > default,
// through the error each invalid listen address produces.
func TestServeConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ledgerless.yaml")
	if err := os.WriteFile(file, []byte("listen: from-file\nlog-format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"file", nil, nil, `listen "from-file"`},
		{"env over file", []string{"LEDGERLESS_LISTEN=from-env"}, nil, `listen "from-env"`},
		{"flag over env", []string{"LEDGERLESS_LISTEN=from-env"}, []string{"--listen", "from-flag"}, `listen "from-flag"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"serve", "--config", file}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || !bytes.Contains(out, []byte(tc.want)) {
				t.Fatalf("want an error naming %s, got %v:\n%s", tc.want, err, out)
			}
		})
	}
}
