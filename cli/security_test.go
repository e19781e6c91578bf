package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/internal/certtest"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// Tokens of the controller with authentication on.
const (
	adminToken  = "admin-token-0123456789abcdef"
	brokerToken = "broker-token-0123456789abcdef" // a broker's of cluster c1
	wrongToken  = "wrong-token-0123456789abcdef"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secureController runs a controller over TLS with a certificate of ca,
// that verifies client certificates of ca: with authFile, when they are
// sent (the file maps the common name "operator" to admin); without,
// always.
func secureController(t *testing.T, ca *certtest.CA, authFile string) string {
	t.Helper()
	cert := ca.Issue(t, "controller", "127.0.0.1")
	return servertest.Start(t, storetest.Prefix(t), "r1", func(c *server.Config) {
		c.TLS = server.TLS{CertFile: cert.CertFile, KeyFile: cert.KeyFile, ClientCAFile: ca.File}
		if authFile != "" {
			c.AuthFile, c.TLS.ClientAuth = authFile, "optional"
		}
	}).URL
}

// TestTokens: against a controller with authentication on, over TLS,
// every way of giving a token, and the exit code and message of each
// refusal, which never shows the token.
func TestTokens(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "api")
	base := secureController(t, ca, writeFile(t, dir, "credentials.yaml", "tokens:\n"+
		"  - {name: ops, role: admin, sha256: "+auth.HashToken(adminToken)+"}\n"+
		"  - {name: brokers-c1, role: broker, clusters: [c1], sha256: "+auth.HashToken(brokerToken)+"}\n"+
		"certificates:\n  - {name: operator, role: admin, commonName: operator}\n"))
	adminFile := writeFile(t, dir, "admin.token", adminToken+"\n")
	brokerFile := writeFile(t, dir, "broker.token", brokerToken+"\n")
	env := func(kv ...string) invocation {
		inv := invocation{env: map[string]string{cli.ControllerEnv: base, cli.CACertEnv: ca.File}}
		for i := 0; i < len(kv); i += 2 {
			inv.env[kv[i]] = kv[i+1]
		}
		return inv
	}

	for _, tc := range []struct {
		name string
		inv  invocation
		args []string
		code int
		want string
	}{
		{"no token", env(), nil, cli.ExitRefused, "Authentication required (UNAUTHORIZED)"},
		{"wrong token", env(), []string{"--token", wrongToken}, cli.ExitRefused, "give a token it knows with --token-file"},
		{"wrong token in the environment", env(cli.TokenEnv, wrongToken), nil, cli.ExitRefused, "the bearer token is not known"},
		{"wrong token file", env(), []string{"--token-file", writeFile(t, dir, "wrong.token", wrongToken)}, cli.ExitRefused, "(UNAUTHORIZED)"},
		{"token file", env(), []string{"--token-file", adminFile}, cli.ExitOK, ""},
		{"token", env(), []string{"--token", adminToken}, cli.ExitOK, ""},
		{"token in the environment", env(cli.TokenEnv, adminToken), nil, cli.ExitOK, ""},
		{"--token before the environment", env(cli.TokenEnv, adminToken), []string{"--token", wrongToken}, cli.ExitRefused, "(UNAUTHORIZED)"},
		{"--token-file before the environment", env(cli.TokenEnv, wrongToken), []string{"--token-file", adminFile}, cli.ExitOK, ""},
		{"client certificate", env(), certFlags(ca.Issue(t, "operator")), cli.ExitOK, ""},
		{"role that may not", env(), []string{"--token-file", brokerFile}, cli.ExitRefused, "Not allowed for this caller (FORBIDDEN)"},
		{"token and token file", env(), []string{"--token", adminToken, "--token-file", adminFile}, cli.ExitUsage, "give --token or --token-file, not both"},
		{"missing token file", env(), []string{"--token-file", filepath.Join(dir, "none")}, cli.ExitUsage, "token file: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.inv.run(append([]string{"clusters"}, tc.args...)...)
			if tc.code == cli.ExitOK {
				r.ok(t)
				return
			}
			r.fails(t, tc.code, tc.want)
			for _, token := range []string{adminToken, brokerToken, wrongToken} {
				if strings.Contains(r.err.Error()+r.stdout+r.stderr, token) {
					t.Errorf("the output shows a token: %v\n%s%s", r.err, r.stdout, r.stderr)
				}
			}
		})
	}
	// A broker's token may do what a broker does, and nothing else.
	env().run("elect", "c1", "g1", "--yes", "--token-file", brokerFile).fails(t, cli.ExitRefused, "its role does not allow this call")
	// Health checks need no token.
	env().run("health", "--url", base).ok(t)
}

func certFlags(p certtest.Pair) []string { return []string{"--cert", p.CertFile, "--key", p.KeyFile} }

// TestTLS: a controller that requires client certificates, reached with
// and without the flags it needs.
func TestTLS(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	base := secureController(t, ca, "")
	cert := ca.Issue(t, "operator")

	run("--controller", base, "clusters").fails(t, cli.ExitUnavailable, "give the CA that signed it with --cacert")
	run("--controller", base, "--cacert", ca.File, "clusters").fails(t, cli.ExitUnavailable, "give one with --cert and --key")
	run(append([]string{"--controller", base, "--cacert", ca.File, "clusters"}, certFlags(cert)...)...).ok(t)
	invocation{env: map[string]string{cli.ControllerEnv: base, cli.CACertEnv: ca.File, cli.CertEnv: cert.CertFile, cli.KeyEnv: cert.KeyFile}}.
		run("clusters").ok(t)
	run("--controller", base, "--cacert", ca.File, "--cert", cert.CertFile, "clusters").fails(t, cli.ExitUsage, "give --cert and --key together")
	run("--controller", base, "--cacert", filepath.Join(t.TempDir(), "none"), "clusters").fails(t, cli.ExitUsage, "TLS CA file: open")

	// Container health checks of a TLS controller.
	if out := run(append([]string{"health", "--url", base, "--cacert", ca.File}, certFlags(cert)...)...).ok(t); !strings.Contains(out, "is ready") {
		t.Errorf("health over TLS: %q", out)
	}
	run("health", "--url", base, "--cacert", ca.File).fails(t, cli.ExitUnavailable, "is not ready")
}
