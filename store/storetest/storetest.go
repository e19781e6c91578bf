// Package storetest runs a real embedded etcd for tests and gives each test
// its own key prefix in it, so that tests never share state.
package storetest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/store"
)

var (
	embedded  *store.Embedded
	endpoints []string
	seq       atomic.Int64
)

// Main starts one embedded etcd for the test binary, runs the tests and
// stops it; call it from TestMain and return its code.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ledgerless-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	e, err := store.StartEmbedded(store.EmbeddedConfig{DataDir: dir, Name: "test",
		ClientURL: "http://" + FreeAddr(), PeerURL: "http://" + FreeAddr(),
		StartTimeout: 30 * time.Second, UnsafeNoFsync: true, LogLevel: "error"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer e.Close()
	embedded, endpoints = e, e.Endpoints()
	return m.Run()
}

// Endpoints are the client URLs of the test etcd.
func Endpoints() []string { return endpoints }

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
	s, err := store.Open(store.ClientConfig{Endpoints: endpoints, DialTimeout: 5 * time.Second, Prefix: prefix})
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
	s, err := embedded.Open(store.ClientConfig{Prefix: prefix})
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
