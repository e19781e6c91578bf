package store_test

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/internal/certtest"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// TestTLSAndAuth runs an embedded etcd that serves clients and peers over
// TLS and requires client certificates, turns etcd's authentication on
// with a user that may only use ledgerless's prefix, and checks that a
// Store reaches it with the client settings of --etcd-ca-file,
// --etcd-cert-file, --etcd-key-file, --etcd-username and --etcd-password,
// through every etcd API the controller uses.
func TestTLSAndAuth(t *testing.T) {
	ca := certtest.NewCA(t, "etcd")
	server, peer := ca.Issue(t, "etcd", "127.0.0.1"), ca.Issue(t, "etcd-peer", "127.0.0.1")
	client := ca.Issue(t, "ledgerless")
	e, err := store.StartEmbedded(store.EmbeddedConfig{DataDir: t.TempDir(), Name: "tls",
		ClientURL: "https://" + storetest.FreeAddr(), PeerURL: "https://" + storetest.FreeAddr(),
		ClientTLS:    store.ServerTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, TrustedCAFile: ca.File},
		PeerTLS:      store.ServerTLS{CertFile: peer.CertFile, KeyFile: peer.KeyFile, TrustedCAFile: ca.File},
		StartTimeout: 30 * time.Second, UnsafeNoFsync: true, LogLevel: "fatal"}) // refusals are logged as errors
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg := store.ClientConfig{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second, Prefix: "/ledgerless/v1/",
		CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}

	// Without a client certificate, or trusting another CA, nothing works.
	foreign := certtest.NewCA(t, "foreign")
	for name, c := range map[string]store.ClientConfig{
		"no client certificate": {Endpoints: cfg.Endpoints, DialTimeout: time.Second, CAFile: ca.File, Prefix: cfg.Prefix},
		"another CA":            {Endpoints: cfg.Endpoints, DialTimeout: time.Second, CAFile: foreign.File, CertFile: client.CertFile, KeyFile: client.KeyFile, Prefix: cfg.Prefix},
	} {
		if err := readyWithin(c, time.Second); err == nil {
			t.Errorf("%s: etcd answered", name)
		}
	}

	enableAuth(t, cfg.Endpoints, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}}, "/ledgerless/v1/")
	// etcd takes the user from the client certificate's common name when
	// no password is given.
	if err := readyWithin(cfg, 5*time.Second); err != nil {
		t.Errorf("the certificate of user ledgerless: %v", err)
	}
	stranger := ca.Issue(t, "stranger")
	anonymous := cfg
	anonymous.CertFile, anonymous.KeyFile = stranger.CertFile, stranger.KeyFile
	if err := readyWithin(anonymous, time.Second); err == nil {
		t.Error("etcd answered a client that is no user")
	}
	wrong := cfg
	wrong.Username, wrong.Password = "ledgerless", "wrong"
	if err := readyWithin(wrong, time.Second); err == nil {
		t.Error("etcd answered a wrong password")
	}
	cfg.Username, cfg.Password = "ledgerless", "ledgerless-password"
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exercise(t, s)

	outside := cfg
	outside.Prefix = "/other/"
	o, err := store.Open(outside)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.ReadGroup(ctxT(t), g); err == nil {
		t.Error("the ledgerless user read outside its prefix")
	}
}

// readyWithin opens a store with cfg and asks whether etcd answers.
func readyWithin(cfg store.ClientConfig, d time.Duration) error {
	s, err := store.Open(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Ready(ctx)
}

// enableAuth creates root and a ledgerless user that may read and write
// below prefix only, and turns authentication on, as the README's worked
// example does with etcdctl.
func enableAuth(t *testing.T, endpoints []string, tlsCfg *tls.Config, prefix string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := ctxT(t)
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "ledgerless"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "ledgerless", prefix, clientv3.GetPrefixRangeEnd(prefix),
				clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "ledgerless", "ledgerless-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "ledgerless", "ledgerless"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}

// exercise uses every etcd API the controller does: transactions, leases
// attached to keys, keep-alives, revocation, watches, member list and
// status, and the replica presence.
func exercise(t *testing.T, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	changes := make(chan store.Change, 16)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = s.WatchChanges(ctx, 0, func(cs []store.Change, _ int64) {
			for _, c := range cs {
				select {
				case changes <- c:
				case <-ctx.Done():
				}
			}
		})
	}()
	go func() {
		defer wg.Done()
		// A lost presence lease (etcd stalled beyond its TTL on a busy
		// machine) is registered again; ListReplicas below waits for it.
		_ = s.RunReplica(ctx, ledgerless.Replica{ID: "r1", Address: "https://127.0.0.1:1", StartedAt: time.Now()},
			func(error) {})
	}()
	defer wg.Wait()
	defer cancel()

	snap, err := s.ReadGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := s.GrantLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := ledgerless.Broker{ID: 1, Address: "127.0.0.1:1", RegisterCode: "x", HeartbeatTimeout: 10 * time.Second}
	if err := s.Txn(snap).PutState(ledgerless.State{NextBrokerID: 2}).PutBroker(b, time.Now()).
		PutAlive(1, lease, 10*time.Second, time.Now()).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeepAlive(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeLease(ctx, lease); err != nil {
		t.Fatal(err)
	}
	for lost := false; !lost; {
		select {
		case c := <-changes:
			lost = c.Lost && c.BrokerID == 1
		case <-ctx.Done():
			t.Fatal("the watch never saw the revoked lease")
		}
	}
	st, err := s.Status(ctx)
	if err != nil || st.Leader != "tls" {
		t.Fatalf("status %+v: %v", st, err)
	}
	for {
		replicas, err := s.ListReplicas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(replicas) == 1 && replicas[0].ID == "r1" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the replica never registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
