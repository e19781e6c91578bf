package server

import (
	"context"
	"crypto/tls"
	"io"
	"maps"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/internal/certtest"
	"github.com/ledgerless/ledgerless/internal/logtest"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testConfig is a replica on the test etcd, on a free port, with a key
// prefix of its own.
func testConfig(t *testing.T) Config {
	cfg := Defaults()
	cfg.Listen, cfg.ReplicaID = storetest.FreeAddr(), "r1"
	cfg.Etcd.Endpoints, cfg.Etcd.Prefix = storetest.Endpoints(), storetest.Prefix(t)
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// run runs a replica until the test ends and waits until client gets an
// answer from /healthz; it returns the replica's log.
func run(t *testing.T, cfg Config, client *http.Client) *logtest.Buffer {
	t.Helper()
	logs := &logtest.Buffer{}
	cfg.Logger = logs.Logger()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("replica log:\n%s", logs)
		}
	})
	scheme := "http://"
	if cfg.TLS.CertFile != "" {
		scheme = "https://"
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("Run: %v\n%s", err, logs)
		default:
		}
		if resp, err := client.Get(scheme + cfg.Listen + "/healthz"); err == nil {
			resp.Body.Close()
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not serving\n%s", logs)
		}
	}
}

// client returns an HTTPS client trusting ca that presents cert, if any.
func client(ca *certtest.CA, cert *certtest.Pair, tweak func(*tls.Config)) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool()}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	if tweak != nil {
		tweak(cfg)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// get sends GET url with the bearer token, if any, and returns the status.
func get(t *testing.T, c *http.Client, url, token string) (int, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestClientCertificatesRequired(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	cfg := testConfig(t)
	srv := ca.Issue(t, "controller", "127.0.0.1")
	cfg.TLS = TLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: ca.File} // required by default
	good := ca.Issue(t, "anyone")
	run(t, cfg, client(ca, &good, nil))
	url := "https://" + cfg.Listen + "/v1/clusters"

	if status, err := get(t, client(ca, &good, nil), url, ""); err != nil || status != http.StatusOK {
		t.Errorf("client with a certificate: %d %v", status, err)
	}
	foreign := certtest.NewCA(t, "foreign").Issue(t, "anyone")
	for name, c := range map[string]*http.Client{
		"no certificate":            client(ca, nil, nil),
		"certificate of another CA": client(ca, &foreign, nil),
		"TLS 1.1":                   client(ca, &good, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }),
		"TLS 1.2 with a CBC suite only": client(ca, &good, func(c *tls.Config) {
			c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}),
		"server not trusted": client(certtest.NewCA(t, "other"), &good, nil),
	} {
		if status, err := get(t, c, url, ""); err == nil {
			t.Errorf("%s: answered %d", name, status)
		}
	}
	if status, err := get(t, &http.Client{Timeout: 10 * time.Second}, "http://"+cfg.Listen+"/v1/clusters", ""); err == nil && status == http.StatusOK {
		t.Error("plain HTTP answered 200 on the TLS port")
	}
	h2 := client(ca, &good, nil)
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	resp, err := h2.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("protocol %s over TLS %x, want HTTP/2 over TLS 1.3", resp.Proto, resp.TLS.Version)
	}
}

// TestReloadKeepsConnections rewrites the credentials file and the
// certificate, and reloads: a keep-alive connection opened before goes on
// serving under the new credentials, and new connections get the new
// certificate.
func TestReloadKeepsConnections(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	dir := t.TempDir()
	cfg := testConfig(t)
	first, second := ca.Issue(t, "controller", "127.0.0.1"), ca.Issue(t, "controller", "127.0.0.1")
	cfg.TLS = TLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	install := func(p certtest.Pair) {
		for src, dst := range map[string]string{p.CertFile: cfg.TLS.CertFile, p.KeyFile: cfg.TLS.KeyFile} {
			b, err := os.ReadFile(src)
			if err == nil {
				err = os.WriteFile(dst, b, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	install(first)
	cfg.AuthFile = filepath.Join(dir, "credentials.yaml")
	credentials := func(token string) {
		src := "tokens: [{name: ops, role: admin, sha256: " + auth.HashToken(token) + "}]"
		if err := os.WriteFile(cfg.AuthFile, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	credentials("old-token-0123456789")
	reload := make(chan os.Signal)
	cfg.Reload = reload

	c := client(ca, nil, nil)
	logs := run(t, cfg, c)
	url := "https://" + cfg.Listen + "/v1/config"
	var conns []string // local address and certificate serial of each request's connection
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		cs := info.Conn.(*tls.Conn).ConnectionState()
		conns = append(conns, info.Conn.LocalAddr().String()+" "+cs.PeerCertificates[0].SerialNumber.String())
	}}
	status := func(token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if s := status("old-token-0123456789"); s != http.StatusOK {
		t.Fatalf("old token before the reload: %d", s)
	}

	credentials("new-token-0123456789")
	install(second)
	reload <- os.Interrupt // delivered: the reload runs next
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "TLS files reloaded"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", logs)
		}
	}
	if s := status("old-token-0123456789"); s != http.StatusUnauthorized {
		t.Errorf("old token after the reload: %d, want 401", s)
	}
	if s := status("new-token-0123456789"); s != http.StatusOK {
		t.Errorf("new token after the reload: %d, want 200", s)
	}
	if conns[0] != conns[1] || conns[1] != conns[2] {
		t.Errorf("the reload broke the connection: %v", conns)
	}
	c.CloseIdleConnections()
	status("new-token-0123456789")
	if serial := conns[3][strings.Index(conns[3], " ")+1:]; serial != second.TLS.Leaf.SerialNumber.String() {
		t.Errorf("a new connection got certificate %s, want the new one %s", serial, second.TLS.Leaf.SerialNumber)
	}

	// A broken file is refused and the credentials in use stay.
	if err := os.WriteFile(cfg.AuthFile, []byte("tokens: [{name: x, role: root}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- os.Interrupt
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "credentials not reloaded"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed reload logged:\n%s", logs)
		}
	}
	if s := status("new-token-0123456789"); s != http.StatusOK {
		t.Errorf("token after a failed reload: %d, want 200", s)
	}
}

func TestExposureWarnings(t *testing.T) {
	withTLS := TLS{CertFile: "c", KeyFile: "k"}
	mTLS := TLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "required"}
	optional := TLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "optional"}
	for _, tc := range []struct {
		listen string
		tls    TLS
		auth   bool
		want   []string // substrings of the warnings, in order
	}{
		{"127.0.0.1:9878", TLS{}, false, nil},
		{"[::1]:9878", TLS{}, false, nil},
		{"localhost:9878", TLS{}, false, nil},
		{":9878", TLS{}, false, []string{"plain HTTP", "without authentication"}},
		{"0.0.0.0:9878", TLS{}, true, []string{"plain HTTP"}},
		{"10.0.0.5:9878", withTLS, false, []string{"without authentication"}},
		{"[::]:9878", optional, false, []string{"without authentication"}},
		{"ctl-1.example:9878", mTLS, false, nil},
		{"ctl-1.example:9878", withTLS, true, nil},
	} {
		got := exposure(tc.listen, tc.tls, tc.auth)
		ok := len(got) == len(tc.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], tc.want[i])
		}
		if !ok {
			t.Errorf("exposure(%s, %+v, auth %v) = %q, want %q", tc.listen, tc.tls, tc.auth, got, tc.want)
		}
	}
}

func TestValidateSecurity(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Config)
		err  string // substring; "" for valid
	}{
		"plain":                 {func(*Config) {}, ""},
		"tls":                   {func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k"} }, ""},
		"cert without key":      {func(c *Config) { c.TLS = TLS{CertFile: "c"} }, "go together"},
		"client CA without TLS": {func(c *Config) { c.TLS = TLS{ClientCAFile: "ca"} }, "needs tls-cert"},
		"CA and none":           {func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "none"} }, "optional or required"},
		"required without CA":   {func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k", ClientAuth: "required"} }, "needs tls-client-ca"},
		"unknown mode":          {func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k", ClientAuth: "yes"} }, "want none"},
		"zero read timeout":     {func(c *Config) { c.Limits.ReadTimeout = 0 }, "positive"},
		"tiny headers":          {func(c *Config) { c.Limits.MaxHeaderBytes = 100 }, "at least 4096"},
		"negative long polls":   {func(c *Config) { c.Limits.MaxLongPolls = -1 }, "negative"},
		"no limits":             {func(c *Config) { c.Limits.MaxLongPolls, c.Limits.MaxBrokersPerGroup = 0, 0 }, ""},
		"https etcd, no cert":   {func(c *Config) { c.Embedded.ClientURL = "https://127.0.0.1:2379" }, "needs embedded-cert-file"},
		"http etcd with cert": {func(c *Config) {
			c.Embedded.ClientTLS.CertFile, c.Embedded.ClientTLS.KeyFile = "c", "k"
		}, "an http URL neither"},
		"https etcd, no CA for the replica": {func(c *Config) {
			c.Embedded.ClientURL, c.Embedded.ClientTLS.CertFile, c.Embedded.ClientTLS.KeyFile = "https://127.0.0.1:2379", "c", "k"
		}, "give etcd-ca-file"},
		"https etcd requiring client certificates": {func(c *Config) {
			c.Embedded.ClientURL, c.Embedded.ClientTLS = "https://127.0.0.1:2379", store.ServerTLS{CertFile: "c", KeyFile: "k", TrustedCAFile: "ca"}
			c.Etcd.CAFile = "ca"
		}, "etcd-cert-file"},
		"https peers without certificates": {func(c *Config) { c.Embedded.PeerURL = "https://127.0.0.1:2380" }, "embedded-peer-cert-file"},
		"peer CA over http":                {func(c *Config) { c.Embedded.PeerTLS.TrustedCAFile = "ca" }, "needs an https"},
	} {
		cfg := Defaults()
		tc.edit(&cfg)
		err := cfg.Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", name, err, tc.err)
		}
	}
	cfg := Defaults()
	cfg.TLS = TLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}
	if err := cfg.Validate(); err != nil || cfg.TLS.ClientAuth != "required" || !strings.HasPrefix(cfg.AdvertiseURL, "https://") {
		t.Errorf("defaults with a client CA: %v, client auth %q, advertise %q", err, cfg.TLS.ClientAuth, cfg.AdvertiseURL)
	}
}

// TestSecureEmbeddedEtcd runs a replica whose embedded etcd serves clients
// and peers over TLS and requires client certificates, and whose API
// needs TLS and a token: a broker registers, and the replica reports its
// etcd.
func TestSecureEmbeddedEtcd(t *testing.T) {
	ca := certtest.NewCA(t, "ca")
	api, etcd, peer, self := ca.Issue(t, "controller", "127.0.0.1"), ca.Issue(t, "etcd", "127.0.0.1"),
		ca.Issue(t, "etcd-peer", "127.0.0.1"), ca.Issue(t, "ledgerless")
	cfg := Defaults()
	cfg.Listen, cfg.ReplicaID, cfg.DataDir, cfg.ShutdownTimeout = storetest.FreeAddr(), "r1", t.TempDir(), 5*time.Second
	cfg.Embedded.ClientURL, cfg.Embedded.PeerURL = "https://"+storetest.FreeAddr(), "https://"+storetest.FreeAddr()
	cfg.Embedded.ClientTLS = store.ServerTLS{CertFile: etcd.CertFile, KeyFile: etcd.KeyFile, TrustedCAFile: ca.File}
	cfg.Embedded.PeerTLS = store.ServerTLS{CertFile: peer.CertFile, KeyFile: peer.KeyFile, TrustedCAFile: ca.File}
	cfg.Embedded.UnsafeNoFsync = true
	cfg.Etcd.CAFile, cfg.Etcd.CertFile, cfg.Etcd.KeyFile = ca.File, self.CertFile, self.KeyFile
	cfg.TLS = TLS{CertFile: api.CertFile, KeyFile: api.KeyFile}
	cfg.AuthFile = filepath.Join(t.TempDir(), "credentials.yaml")
	src := "tokens:\n  - {name: ops, role: admin, sha256: " + auth.HashToken("admin-token-0123456789") + "}\n" +
		"  - {name: b, role: broker, groups: [c/g], sha256: " + auth.HashToken("broker-token-0123456789") + "}\n"
	if err := os.WriteFile(cfg.AuthFile, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c := client(ca, nil, nil)
	run(t, cfg, c)
	base := "https://" + cfg.Listen

	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status, err := get(t, c, base+"/readyz", ""); err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
	}
	req, _ := http.NewRequest("POST", base+"/v1/clusters/c/groups/g/brokers",
		strings.NewReader(`{"address":"127.0.0.1:10911","registerCode":"code-1"}`))
	req.Header.Set("Authorization", "Bearer broker-token-0123456789")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", base+"/v1/controller", nil)
	req.Header.Set("Authorization", "Bearer admin-token-0123456789")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"endpoints":["`+cfg.Embedded.ClientURL+`"]`) ||
		!strings.Contains(string(body), `"address":"https://r1:`) {
		t.Errorf("controller: %d %s", resp.StatusCode, body)
	}
}

// TestLimitsReachTheServer checks that the limits of the configuration
// are the ones the replica enforces.
func TestLimitsReachTheServer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.MaxHeaderBytes, cfg.Limits.MaxBrokersPerGroup, cfg.Limits.MaxLongPolls = 4096, 1, 1
	c := &http.Client{Timeout: 10 * time.Second}
	run(t, cfg, c)
	base := "http://" + cfg.Listen + "/v1/clusters/c/groups/g"
	send := func(method, url, body string, header http.Header) int {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		maps.Copy(req.Header, header)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send("GET", base, "", http.Header{"X-Big": {strings.Repeat("x", 16<<10)}}); s != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: %d, want 431", s)
	}
	if s := send("POST", base+"/brokers", `{"address":"127.0.0.1:1","registerCode":"a"}`, nil); s != http.StatusOK {
		t.Fatalf("first broker: %d", s)
	}
	if s := send("POST", base+"/brokers", `{"address":"127.0.0.1:2","registerCode":"b"}`, nil); s != http.StatusConflict {
		t.Errorf("second broker: %d, want 409", s)
	}
	go func() { // answered at shutdown
		if resp, err := c.Get(base + "?index=1000000000000&wait=1m"); err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := c.Get("http://" + cfg.Listen + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(metrics), "\nledgerless_longpoll_waiters 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first long poll never waited")
		}
	}
	if s := send("GET", base+"?index=0&wait=1m", "", nil); s != http.StatusServiceUnavailable {
		t.Errorf("second long poll: %d, want 503", s)
	}
}
