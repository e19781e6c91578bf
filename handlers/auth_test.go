package handlers_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/internal/certtest"
	"github.com/ledgerless/ledgerless/internal/logtest"
)

// Tokens of the credentials file the auth tests use.
const (
	adminToken    = "admin-token-0123456789"
	readerToken   = "reader-token-0123456789"
	brokerToken   = "broker-token-0123456789" // scoped to cluster c
	outsiderToken = "outsider-token-0123456789"
)

func credentialsFile(t testing.TB) string {
	t.Helper()
	src := "tokens:\n" +
		"  - {name: ops, role: admin, sha256: " + auth.HashToken(adminToken) + "}\n" +
		"  - {name: dashboard, role: reader, sha256: " + auth.HashToken(readerToken) + "}\n" +
		"  - {name: brokers-c, role: broker, clusters: [c], sha256: " + auth.HashToken(brokerToken) + "}\n" +
		"  - {name: brokers-other, role: broker, clusters: [other], groups: [c/g2], sha256: " + auth.HashToken(outsiderToken) + "}\n" +
		"certificates:\n" +
		"  - {name: broker-cert, role: broker, commonName: broker-c, groups: [c/g]}\n" +
		"  - {name: reader-cert, role: reader, uri: \"spiffe://test/reader\"}\n"
	path := filepath.Join(t.TempDir(), "credentials.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secureServer serves the API with authentication over TLS, verifying
// client certificates of ca when sent. It returns the base URL and the
// server's log.
func secureServer(t *testing.T, ca *certtest.CA) (string, *logtest.Buffer) {
	t.Helper()
	a, err := auth.Load(credentialsFile(t))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	url := newServerWith(t, replicaOptions{log: logs.Logger(), handler: []handlers.Option{handlers.WithAuth(a)},
		tls: &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "controller", "127.0.0.1").TLS},
			ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}})
	return url, logs
}

// tlsClient trusts ca and presents cert, if any, whatever CAs the server
// asks for; its requests are checked against the OpenAPI document.
func tlsClient(ca *certtest.CA, cert *certtest.Pair) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: checked{openAPICheck, &http.Transport{TLSClientConfig: cfg}}}
}

// authCaller is one way of calling: a client and an Authorization header.
type authCaller struct {
	name   string
	client *http.Client
	header string // Authorization; empty: none
}

func send(t *testing.T, c authCaller, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.header != "" {
		req.Header.Set("Authorization", c.header)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, url, c.name, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.Bytes()
}

// TestRolesOverTLS calls every route as every kind of caller: no
// credentials, broken ones, unknown ones, and each role by token and by
// certificate. Unknown callers get 401 everywhere but /healthz and /readyz;
// known ones get 403 exactly where their role does not reach.
func TestRolesOverTLS(t *testing.T) {
	ca := certtest.NewCA(t, "test")
	base, logs := secureServer(t, ca)
	plain := tlsClient(ca, nil)
	brokerCert, readerCert := ca.Issue(t, "broker-c"), ca.Issue(t, "anyone", "spiffe://test/reader")
	strangerCert := ca.Issue(t, "stranger")
	foreignCert := certtest.NewCA(t, "foreign").Issue(t, "broker-c")

	unknown := []authCaller{
		{"no credentials", plain, ""},
		{"unknown token", plain, "Bearer not-a-known-token-0123"},
		{"token hash as token", plain, "Bearer " + auth.HashToken(adminToken)},
		{"basic scheme", plain, "Basic " + adminToken},
		{"bearer without token", plain, "Bearer "},
		{"unmapped certificate", tlsClient(ca, &strangerCert), ""},
		{"mapped certificate, unknown token", tlsClient(ca, &brokerCert), "Bearer not-a-known-token-0123"},
	}
	known := map[string]authCaller{
		"admin":          {"admin token", plain, "Bearer " + adminToken},
		"admin-lower":    {"admin token, lower-case scheme", plain, "bearer " + adminToken},
		"reader":         {"reader token", plain, "Bearer " + readerToken},
		"reader-cert":    {"reader certificate (URI SAN)", tlsClient(ca, &readerCert), ""},
		"broker":         {"broker token of cluster c", plain, "Bearer " + brokerToken},
		"broker-cert":    {"broker certificate of group c/g (CN)", tlsClient(ca, &brokerCert), ""},
		"outsider":       {"broker token of cluster other and group c/g2", plain, "Bearer " + outsiderToken},
		"outsider-token": {"broker token of cluster other over the broker certificate", tlsClient(ca, &brokerCert), "Bearer " + outsiderToken},
	}
	// A certificate of another CA is refused in the handshake.
	if _, err := tlsClient(ca, &foreignCert).Get(base + "/healthz"); err == nil {
		t.Error("a client certificate of an unknown CA was accepted")
	}

	// Brokers 1 and 2 of c/g, and broker 1 of other/g; c/g2 is empty.
	admin := known["admin"]
	for _, r := range []struct{ path, body string }{
		{G, `{"address":"127.0.0.1:10911","registerCode":"code-1"}`},
		{G, `{"address":"127.0.0.1:10921","registerCode":"code-2"}`},
		{"/v1/clusters/other/groups/g", `{"address":"127.0.0.1:10931","registerCode":"code-3"}`},
	} {
		if status, _, b := send(t, admin, "POST", base+r.path+"/brokers", r.body); status != http.StatusOK {
			t.Fatalf("register: %d %s", status, b)
		}
	}

	all := "admin admin-lower reader reader-cert broker broker-cert outsider outsider-token"
	readers := "admin admin-lower reader reader-cert"
	admins := "admin admin-lower"
	groupOwners := "admin admin-lower broker broker-cert"
	routes := []struct {
		method, path, body string
		allowed            string // the known callers allowed; "public": no credentials needed
	}{
		{"GET", "/healthz", "", "public"},
		{"GET", "/readyz", "", "public"},
		{"GET", "/metrics", "", readers},
		{"GET", "/v1/openapi.json", "", all},
		{"GET", "/v1/no-such-route", "", all},
		{"GET", "/v1/clusters", "", readers},
		{"GET", "/v1/clusters/c/groups", "", readers},
		{"GET", G, "", readers + " broker broker-cert"},
		{"GET", "/v1/clusters/other/groups/g", "", readers + " outsider outsider-token"},
		{"GET", G + "/history", "", readers},
		{"GET", "/v1/controller", "", readers},
		{"GET", "/v1/whoami", "", all},
		{"GET", "/v1/config", "", readers},
		{"PATCH", "/v1/config", `{"enableElectUncleanMaster":false}`, admins},
		{"POST", G + "/brokers", `{"address":"127.0.0.1:10911","registerCode":"code-1"}`, groupOwners},
		{"POST", "/v1/clusters/c/groups/g2/brokers", `{"address":"127.0.0.1:10941","registerCode":"code-4"}`,
			"admin admin-lower broker outsider outsider-token"},
		{"PUT", G + "/brokers/1/heartbeat", `{"epoch":1,"maxOffset":10}`, groupOwners},
		{"POST", G + "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, groupOwners},
		{"POST", G + "/elect", `{}`, admins},
		{"DELETE", G + "/brokers/2/lease", "", groupOwners},
		{"DELETE", G + "/brokers/2?force=true", "", admins},
		{"DELETE", "/v1/clusters/other/groups/g?force=true", "", admins},
	}
	for _, r := range routes {
		url := base + r.path
		for _, c := range unknown {
			status, h, b := send(t, c, r.method, url, r.body)
			if r.allowed == "public" {
				if status != http.StatusOK {
					t.Errorf("%s %s as %s: %d, want 200", r.method, r.path, c.name, status)
				}
				continue
			}
			problem(t, status, h, b, http.StatusUnauthorized, "UNAUTHORIZED", 16)
			if got := h.Get("WWW-Authenticate"); got != `Bearer realm="ledgerless"` {
				t.Errorf("%s %s as %s: WWW-Authenticate %q", r.method, r.path, c.name, got)
			}
		}
		for _, key := range []string{"admin", "admin-lower", "reader", "reader-cert", "broker", "broker-cert", "outsider", "outsider-token"} {
			c := known[key]
			status, h, b := send(t, c, r.method, url, r.body)
			allowed := r.allowed == "public" || strings.Contains(" "+r.allowed+" ", " "+key+" ")
			switch {
			case !allowed:
				problem(t, status, h, b, http.StatusForbidden, "FORBIDDEN", 16)
			case status == http.StatusUnauthorized || status == http.StatusForbidden || status >= 500:
				t.Errorf("%s %s as %s: %d, want it allowed; body %s", r.method, r.path, c.name, status, b)
			case r.method == "GET" && r.path != "/v1/no-such-route" && status != http.StatusOK:
				t.Errorf("%s %s as %s: %d, want 200; body %s", r.method, r.path, c.name, status, b)
			}
		}
	}

	// whoami names each known caller's entry and role.
	for key, want := range map[string]string{"admin": "ops admin", "reader": "dashboard reader",
		"reader-cert": "reader-cert reader", "broker": "brokers-c broker"} {
		status, _, b := send(t, known[key], "GET", base+"/v1/whoami", "")
		var who struct {
			Replica, Name, Role string
			Authenticated       bool
		}
		if err := json.Unmarshal(b, &who); status != http.StatusOK || err != nil {
			t.Fatalf("whoami as %s: %d %s", key, status, b)
		}
		if got := who.Name + " " + who.Role; got != want || !who.Authenticated || who.Replica != "r1" {
			t.Errorf("whoami as %s: %+v, want %s, authenticated, replica r1", key, who, want)
		}
	}

	// Refusals are counted by reason and logged without secrets.
	_, _, metrics := send(t, known["reader"], "GET", base+"/metrics", "")
	for _, reason := range []string{"missing", "malformed", "invalid_token", "unknown_certificate", "forbidden"} {
		line := `ledgerless_auth_failures_total{reason="` + reason + `"} `
		if !bytes.Contains(metrics, []byte(line)) || bytes.Contains(metrics, []byte(line+"0\n")) {
			t.Errorf("metrics: no refusal counted as %s", reason)
		}
	}
	for _, secret := range []string{adminToken, readerToken, brokerToken, outsiderToken, "not-a-known-token"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a token: %s", secret)
		}
	}
	if !strings.Contains(logs.String(), `msg="request refused" reason=forbidden caller=brokers-c`) {
		t.Errorf("no refusal of brokers-c logged:\n%s", logs)
	}
}
