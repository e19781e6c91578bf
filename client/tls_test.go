package client_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/internal/certtest"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// tlsController runs a controller serving https with a certificate of ca,
// requiring client certificates of ca when clientCerts is set.
func tlsController(t *testing.T, ca *certtest.CA, clientCerts bool) *servertest.Replica {
	t.Helper()
	cert := ca.Issue(t, "controller", "127.0.0.1")
	return servertest.Start(t, storetest.Prefix(t), "r1", func(c *server.Config) {
		c.TLS = server.TLS{CertFile: cert.CertFile, KeyFile: cert.KeyFile}
		if clientCerts {
			c.TLS.ClientCAFile = ca.File // required
		}
	})
}

// transport is a transport to ctl with opts' TLS settings.
func transport(t *testing.T, url string, tls client.TLS) *client.Transport {
	t.Helper()
	tr, err := client.NewTransport(client.TransportOptions{Controllers: []string{url}, TLS: tls})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestTLS(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	ctl := tlsController(t, ca, false)
	if !strings.HasPrefix(ctl.URL, "https://") {
		t.Fatalf("controller at %s", ctl.URL)
	}
	_, err := transport(t, ctl.URL, client.TLS{}).Do(ctxT(t), http.MethodGet, "/v1/clusters", nil)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("without the controller's CA: %v", err)
	}
	opts := options(t, 1, ctl.URL)
	opts.TLS = client.TLS{CAFile: ca.File}
	if r := run(t, opts); r.ID() != 1 {
		t.Fatalf("broker over TLS: id %d", r.ID())
	}
}

// TestMutualTLS: a controller that requires client certificates takes the
// broker's, refuses a client without one, and a renewed certificate
// takes effect at the next connection.
func TestMutualTLS(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	ctl := tlsController(t, ca, true)
	good := ca.Issue(t, "broker-a")

	opts := options(t, 1, ctl.URL)
	opts.TLS = client.TLS{CAFile: ca.File, CertFile: good.CertFile, KeyFile: good.KeyFile}
	if r := run(t, opts); r.ID() != 1 {
		t.Fatalf("broker with a client certificate: id %d", r.ID())
	}
	// The controller ends the connection after the handshake; how the
	// client hears of it varies (an alert, a broken pipe).
	_, err := transport(t, ctl.URL, client.TLS{CAFile: ca.File}).Do(ctxT(t), http.MethodGet, "/v1/clusters", nil)
	var p *client.Problem
	if err == nil || errors.As(err, &p) {
		t.Errorf("without a client certificate: %v", err)
	}

	// Files holding a certificate of another CA, then renewed ones.
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	install := func(p certtest.Pair) {
		copyFile(t, p.CertFile, certFile)
		copyFile(t, p.KeyFile, keyFile)
	}
	install(certtest.NewCA(t, "foreign").Issue(t, "broker-a"))
	tr := transport(t, ctl.URL, client.TLS{CAFile: ca.File, CertFile: certFile, KeyFile: keyFile})
	if _, err := tr.Do(ctxT(t), http.MethodGet, "/v1/clusters", nil); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	install(ca.Issue(t, "broker-a"))
	if _, err := tr.Do(ctxT(t), http.MethodGet, "/v1/clusters", nil); err != nil {
		t.Fatalf("after renewing the certificate files: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func TestTransportOptionsRefused(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	pair := ca.Issue(t, "broker-a")
	dir := t.TempDir()
	empty, notPEM := filepath.Join(dir, "empty"), filepath.Join(dir, "not-pem")
	writeFile(t, empty, "\n")
	writeFile(t, notPEM, "hello")
	url := []string{"https://127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		opts client.TransportOptions
		want string
	}{
		{"token and token file", client.TransportOptions{Token: "a", TokenFile: empty}, "not both"},
		{"missing token file", client.TransportOptions{TokenFile: filepath.Join(dir, "none")}, "token file: open"},
		{"empty token file", client.TransportOptions{TokenFile: empty}, "no token in it"},
		{"TLS and a client of one's own", client.TransportOptions{HTTP: &http.Client{}, TLS: client.TLS{CAFile: ca.File}}, "configure the given one"},
		{"CA file without PEM", client.TransportOptions{TLS: client.TLS{CAFile: notPEM}}, "no PEM certificate"},
		{"certificate without key", client.TransportOptions{TLS: client.TLS{CertFile: pair.CertFile}}, "both a client certificate and its key"},
		{"key that is no key", client.TransportOptions{TLS: client.TLS{CertFile: pair.CertFile, KeyFile: notPEM}}, "TLS client certificate"},
		{"plain URL", client.TransportOptions{Controllers: []string{"127.0.0.1:9878"}}, "want http://host:port or https://host:port"},
	} {
		if tc.opts.Controllers == nil {
			tc.opts.Controllers = url
		}
		if _, err := client.NewTransport(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
