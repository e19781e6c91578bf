package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/internal/certtest"
)

// TestServeSecured runs two replicas as an operator would secure them:
// the first with an embedded etcd serving clients and peers over TLS with
// client certificates, the second using that etcd as an external one; both
// serve the API over TLS to callers with tokens. SIGHUP reloads the
// credentials file without closing connections or stopping the replica.
func TestServeSecured(t *testing.T) {
	ca := certtest.NewCA(t, "ca")
	api, etcd, peer, self := ca.Issue(t, "controller", "127.0.0.1"), ca.Issue(t, "etcd", "127.0.0.1"),
		ca.Issue(t, "etcd-peer", "127.0.0.1"), ca.Issue(t, "ledgerless")
	credentials := filepath.Join(t.TempDir(), "credentials.yaml")
	writeCredentials := func(token string) {
		t.Helper()
		src := "tokens: [{name: ops, role: admin, sha256: " + hash(t, token) + "}]\n"
		if err := os.WriteFile(credentials, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCredentials("first-token-0123456789")
	etcdURL := "https://" + freeAddr(t)
	secure := []string{"--tls-cert", api.CertFile, "--tls-key", api.KeyFile, "--auth-file", credentials,
		"--etcd-ca-file", ca.File, "--etcd-cert-file", self.CertFile, "--etcd-key-file", self.KeyFile}
	first := start(t, append([]string{"--replica-id", "one", "--data-dir", t.TempDir(),
		"--embedded-client-url", etcdURL, "--embedded-peer-url", "https://" + freeAddr(t),
		"--embedded-cert-file", etcd.CertFile, "--embedded-key-file", etcd.KeyFile, "--embedded-trusted-ca-file", ca.File,
		"--embedded-peer-cert-file", peer.CertFile, "--embedded-peer-key-file", peer.KeyFile,
		"--embedded-peer-trusted-ca-file", ca.File}, secure...)...)
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	first.url = strings.Replace(first.url, "http://", "https://", 1)
	first.readyVia(t, client)
	second := start(t, append([]string{"--replica-id", "two", "--etcd-endpoints", etcdURL}, secure...)...)
	second.url = strings.Replace(second.url, "http://", "https://", 1)
	second.readyVia(t, client)

	var conns []string
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Conn.LocalAddr().String()) }}
	status := func(url, token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if s := status(second.url+"/v1/controller", "first-token-0123456789"); s != http.StatusOK {
		t.Fatalf("controller on the second replica: %d", s)
	}
	if s := status(first.url+"/v1/config", "first-token-0123456789"); s != http.StatusOK {
		t.Fatalf("config on the first replica: %d", s)
	}

	writeCredentials("second-token-0123456789")
	if err := first.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); status(first.url+"/v1/config", "first-token-0123456789") != http.StatusUnauthorized; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first token still works 20s after SIGHUP")
		}
	}
	if s := status(first.url+"/v1/config", "second-token-0123456789"); s != http.StatusOK {
		t.Errorf("the new token after SIGHUP: %d", s)
	}
	firstConn := conns[1] // conns[0] went to the second replica
	for _, c := range conns[1:] {
		if c != firstConn {
			t.Errorf("connections to the first replica: %v; SIGHUP closed one", conns[1:])
			break
		}
	}
	second.stop(t)
	first.stop(t)
}

// hash runs ledgerless token hash.
func hash(t *testing.T, token string) string {
	t.Helper()
	cmd := exec.Command(binary, "token", "hash")
	cmd.Stdin = strings.NewReader(token + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token hash: %v", err)
	}
	sum := sha256.Sum256([]byte(token))
	if got := strings.TrimSpace(string(out)); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("token hash printed %q", got)
	}
	return hex.EncodeToString(sum[:])
}

func TestTokenCommands(t *testing.T) {
	out, err := exec.Command(binary, "token", "new").Output()
	token := strings.TrimSpace(string(out))
	if err != nil || len(token) < 32 {
		t.Fatalf("token new: %q %v", out, err)
	}
	hash(t, token)
	cmd := exec.Command(binary, "token", "hash")
	cmd.Stdin = strings.NewReader("short\n")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("token hash took a short token: %s", out)
	}
}
