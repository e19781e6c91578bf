package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/internal/logtest"
)

// hangingListener accepts connections and never answers on them, as a
// controller stuck after accept does. It returns its base URL.
func hangingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// A controller that accepts connections and never answers, first in
// --controller, does not make reads fail: they move on to the next one
// within --timeout.
func TestHangingControllerFirst(t *testing.T) {
	base := newServer(t)
	seed(t, base)
	controllers := hangingListener(t) + "," + base
	for _, args := range [][]string{
		{"groups", "c1"},
		{"group", "get", "c1", "g1"},
		{"history", "c1", "g1"},
		{"config", "get"},
	} {
		r := run(append([]string{"--controller", controllers, "--timeout", "6s"}, args...)...)
		if r.code != 0 {
			t.Errorf("%s: exit %d: %v\n%s", strings.Join(args, " "), r.code, r.err, r.stderr)
		}
	}
}

// restartable is a controller's address that can go away and come back:
// a proxy to a replica, stopped with its connections and started again on
// the same port.
type restartable struct {
	t       *testing.T
	addr    string
	backend *url.URL
	mu      sync.Mutex
	srv     *http.Server
}

func newRestartable(t *testing.T, backend string) *restartable {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	r := &restartable{t: t, backend: u, addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *restartable) url() string { return "http://" + r.addr }

func (r *restartable) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	r.addr = ln.Addr().String()
	proxy := httputil.NewSingleHostReverseProxy(r.backend)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // requests cut by stop
	r.srv = &http.Server{Handler: proxy, ErrorLog: proxy.ErrorLog}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			r.t.Errorf("serve: %v", err)
		}
	}(r.srv)
}

// stop closes the listener and every connection, as a controller process
// that exits does.
func (r *restartable) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
	}
}

// group get --watch rides through a restart of every controller: it
// keeps watching, and prints the change made while all were down.
func TestGroupGetWatchAcrossRestarts(t *testing.T) {
	base := newServer(t)
	seed(t, base)
	ctls := []*restartable{newRestartable(t, base), newRestartable(t, base)}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut logtest.Buffer
	done := make(chan result, 1)
	go func() {
		done <- invocation{ctx: ctx, stdout: &out, stderr: &errOut}.run("--controller", ctls[0].url()+","+ctls[1].url(),
			"--timeout", "2s", "group", "get", "c1", "g1", "--watch")
	}()
	eventually(t, func() bool { return strings.Contains(out.String(), "10.0.0.2:10911") })

	// One at a time, then all at once with a change made meanwhile.
	for _, c := range ctls {
		c.stop()
		c.start()
	}
	for _, c := range ctls {
		c.stop()
	}
	register(t, base, "c1", "g1", "code-d", "10.0.0.3:10911")
	// The watch meets closed ports before any controller is back.
	eventually(t, func() bool { return strings.Contains(errOut.String(), "no answer, retrying") })
	for _, c := range ctls {
		c.start()
	}
	eventually(t, func() bool { return strings.Contains(out.String(), "10.0.0.3:10911") })
	select {
	case r := <-done:
		t.Fatalf("watch ended during the restarts with exit %d: %v\n%s", r.code, r.err, errOut.String())
	default:
	}

	cancel()
	select {
	case r := <-done:
		if r.err != nil || r.code != 0 {
			t.Errorf("watch ended with exit %d: %v", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop within 5s of its context ending")
	}
}

// --master-host prints the host of the master's address alone, for
// commands such as docker-compose kill.
func TestGroupGetMasterHost(t *testing.T) {
	base := newServer(t)
	seed(t, base)
	var g struct {
		MasterAddress string `json:"masterAddress"`
	}
	decode(t, run("--controller", base, "group", "get", "c1", "g1", "-o", "json").ok(t), &g)
	host, _, err := net.SplitHostPort(g.MasterAddress)
	if err != nil {
		t.Fatal(err)
	}
	if got := run("--controller", base, "group", "get", "c1", "g1", "--master-host").ok(t); got != host+"\n" {
		t.Errorf("--master-host printed %q, want %q (master at %s)", got, host+"\n", g.MasterAddress)
	}
	if r := run("--controller", base, "group", "get", "c1", "g1", "--master-host", "--watch"); r.code != 2 {
		t.Errorf("--master-host with --watch: exit %d, want 2", r.code)
	}
}

func decode(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
}
