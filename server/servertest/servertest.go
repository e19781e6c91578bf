// Package servertest runs controller replicas in-process for tests, the
// way `ledgerless serve` runs one, on the test etcd of package storetest.
package servertest

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// Replica is a running controller replica.
type Replica struct {
	URL  string // its base URL
	stop func()
}

// Stop shuts the replica down gracefully, as SIGTERM does, and fails the
// test if it did not stop cleanly. Stopping twice does nothing.
func (r *Replica) Stop() { r.stop() }

// Start runs replica id on key prefix of the test etcd (see
// storetest.Main), with a reconcile every 200 ms and the configuration
// changes of configure, and waits until it is ready. It stops when the
// test ends. A replica given TLS.CertFile serves https, and is probed
// with its own certificate as the client's, which its client CA must
// accept when it asks for one (certtest's certificates serve both ends).
func Start(t testing.TB, prefix, id string, configure ...func(*server.Config)) *Replica {
	t.Helper()
	cfg := server.Defaults()
	cfg.Listen, cfg.ReplicaID = storetest.FreeAddr(), id
	cfg.Etcd.Endpoints, cfg.Etcd.Prefix = storetest.Endpoints(), prefix
	cfg.ShutdownTimeout, cfg.Reconcile = 5*time.Second, 200*time.Millisecond
	for _, c := range configure {
		c(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()
	var once sync.Once
	probe, scheme := http.DefaultClient, "http://"
	if cfg.TLS.CertFile != "" {
		probe, scheme = tlsProbe(t, cfg.TLS), "https://"
	}
	r := &Replica{URL: scheme + cfg.Listen, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("controller replica %s: %v", id, err)
			}
		})
	}}
	t.Cleanup(r.Stop)
	for deadline := time.Now().Add(30 * time.Second); !client.Ready(context.Background(), probe, r.URL); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("controller replica %s not ready within 30s", id)
		}
	}
	return r
}

// tlsProbe is a client of a replica serving c that skips verifying the
// replica (the probe only waits for it) and shows the replica's own
// certificate when asked for one.
func tlsProbe(t testing.TB, c server.TLS) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
