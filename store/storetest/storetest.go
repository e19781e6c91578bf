// Package storetest runs a real embedded etcd for tests and gives each test
// its own key prefix in it, so that tests never share state.
package storetest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ledgerless/ledgerless/store"
)

var (
	once     sync.Once
	dir      string
	etcd     *store.Embedded
	startErr error
	seq      atomic.Int64
)

// Main runs the tests and then stops the test binary's embedded etcd, if
// a test started it; call it from TestMain and return its code. The etcd
// starts at first use, so that tests that need none (fuzz targets of pure
// functions among them) run without its load.
//
// When every test passed, Main then checks that no goroutine outlived
// them: every goroutine a test started, directly or through the code it
// tested, must have been joined by the time it ended. Goroutines running
// before the tests (package init) are not counted.
func Main(m *testing.M) int {
	before := goleak.IgnoreCurrent()
	code := m.Run()
	if etcd != nil {
		etcd.Close()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines outlived the tests: %v\n", err)
			return 1
		}
	}
	return code
}

func start() {
	if dir, startErr = os.MkdirTemp("", "ledgerless-etcd-"); startErr != nil {
		return
	}
	etcd, startErr = store.StartEmbedded(store.EmbeddedConfig{DataDir: dir, Name: "test",
		ClientURL: "http://" + FreeAddr(), PeerURL: "http://" + FreeAddr(),
		StartTimeout: 30 * time.Second, UnsafeNoFsync: true, LogLevel: "error"})
}

// Endpoints are the client URLs of the test etcd; nil if it cannot start.
func Endpoints() []string {
	once.Do(start)
	if startErr != nil {
		return nil
	}
	return etcd.Endpoints()
}

// Prefix returns a key prefix no other test uses.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("/test/%s-%d/", name, seq.Add(1))
}

// Open returns a Store on the test etcd below prefix, with its own etcd
// client (as a separate controller replica would have), closed when the
// test ends.
func Open(t testing.TB, prefix string) *store.Store {
	t.Helper()
	if Endpoints() == nil {
		t.Fatalf("test etcd: %v", startErr)
	}
	s, err := store.Open(store.ClientConfig{Endpoints: Endpoints(), DialTimeout: 5 * time.Second, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// OpenInProcess is Open with a client that calls the test etcd in process,
// as a replica does with its embedded etcd.
func OpenInProcess(t testing.TB, prefix string) *store.Store {
	t.Helper()
	if Endpoints() == nil {
		t.Fatalf("test etcd: %v", startErr)
	}
	s, err := etcd.Open(store.ClientConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// FreeAddr returns a 127.0.0.1 address with a port that was free just now.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// OpenConfig is Open with a client configuration: its endpoints default to
// the test etcd's and its dial timeout to 5 s.
func OpenConfig(t testing.TB, cfg store.ClientConfig) *store.Store {
	t.Helper()
	if len(cfg.Endpoints) == 0 {
		if Endpoints() == nil {
			t.Fatalf("test etcd: %v", startErr)
		}
		cfg.Endpoints = Endpoints()
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the host:port of the test etcd's client URL, for a Proxy.
func Addr(t testing.TB) string {
	t.Helper()
	eps := Endpoints()
	if eps == nil {
		t.Fatalf("test etcd: %v", startErr)
	}
	return strings.TrimPrefix(strings.TrimPrefix(eps[0], "http://"), "https://")
}
