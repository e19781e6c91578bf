package auth_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
)

const sample = `
tokens:
  - name: ops
    role: admin
    sha256: ` + "%ADMIN%" + `
  - name: dash
    role: reader
    sha256: ` + "%READER%" + `
  - name: brokers
    role: broker
    sha256: ` + "%BROKER%" + `
    clusters: [c1]
    groups: [c2/g1]
certificates:
  - {name: broker-a, role: broker, commonName: broker-a, clusters: ["*"]}
  - {name: spiffe-reader, role: reader, uri: "spiffe://example.org/dash"}
`

func sampleFile() string {
	return strings.NewReplacer("%ADMIN%", auth.HashToken("admin-token"), "%READER%", auth.HashToken("reader-token"),
		"%BROKER%", auth.HashToken("broker-token")).Replace(sample)
}

func TestParseAndLookUp(t *testing.T) {
	c, err := auth.Parse([]byte(sampleFile()))
	if err != nil {
		t.Fatal(err)
	}
	if tokens, certs := c.Counts(); tokens != 3 || certs != 2 {
		t.Errorf("counts %d tokens, %d certificates; want 3, 2", tokens, certs)
	}
	for tok, want := range map[string]string{"admin-token": "ops", "reader-token": "dash", "broker-token": "brokers"} {
		p, ok := c.Token(tok)
		if !ok || p.Name != want {
			t.Errorf("token %q: %v %v, want %s", tok, p, ok, want)
		}
	}
	for _, bad := range []string{"", "admin-token ", "Admin-token", auth.HashToken("admin-token")} {
		if p, ok := c.Token(bad); ok {
			t.Errorf("token %q accepted as %s", bad, p.Name)
		}
	}
	p, _ := c.Token("broker-token")
	if p.Role != auth.RoleBroker || !slices.Equal(p.Clusters, []string{"c1"}) ||
		!slices.Equal(p.Groups, []ledgerless.GroupKey{{Cluster: "c2", Group: "g1"}}) {
		t.Errorf("broker principal %+v", p)
	}

	spiffe, _ := url.Parse("spiffe://example.org/dash")
	other, _ := url.Parse("spiffe://example.org/other")
	for _, tc := range []struct {
		cert *x509.Certificate
		want string
	}{
		{&x509.Certificate{Subject: pkix.Name{CommonName: "broker-a"}}, "broker-a"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "broker-b"}}, ""},
		{&x509.Certificate{}, ""},
		{&x509.Certificate{URIs: []*url.URL{spiffe}}, "spiffe-reader"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "broker-a"}, URIs: []*url.URL{other, spiffe}}, "spiffe-reader"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "broker-a"}, URIs: []*url.URL{other}}, "broker-a"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "spiffe://example.org/dash"}}, ""},
	} {
		p, ok := c.Certificate(tc.cert)
		if got := ""; ok {
			got = p.Name
			if got != tc.want {
				t.Errorf("certificate CN %q URIs %v: %s, want %q", tc.cert.Subject.CommonName, tc.cert.URIs, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("certificate CN %q URIs %v: none, want %s", tc.cert.Subject.CommonName, tc.cert.URIs, tc.want)
		}
	}
}

func TestParseRefusesMistakes(t *testing.T) {
	h := auth.HashToken("t")
	for name, src := range map[string]string{
		"unknown top-level field":  "token: []",
		"unknown entry field":      "tokens: [{name: a, role: admin, sha256: " + h + ", scope: x}]",
		"token in clear":           "tokens: [{name: a, role: admin, token: secret}]",
		"missing name":             "tokens: [{role: admin, sha256: " + h + "}]",
		"duplicate name":           "tokens: [{name: a, role: admin, sha256: " + h + "}]\ncertificates: [{name: a, role: admin, commonName: x}]",
		"unknown role":             "tokens: [{name: a, role: root, sha256: " + h + "}]",
		"missing role":             "tokens: [{name: a, sha256: " + h + "}]",
		"short hash":               "tokens: [{name: a, role: admin, sha256: abcd}]",
		"hash not hex":             "tokens: [{name: a, role: admin, sha256: " + strings.Repeat("z", 64) + "}]",
		"missing hash":             "tokens: [{name: a, role: admin}]",
		"same token twice":         "tokens: [{name: a, role: admin, sha256: " + h + "}, {name: b, role: reader, sha256: " + h + "}]",
		"unscoped broker":          "tokens: [{name: a, role: broker, sha256: " + h + "}]",
		"scoped admin":             "tokens: [{name: a, role: admin, sha256: " + h + ", clusters: [c1]}]",
		"scoped reader":            "tokens: [{name: a, role: reader, sha256: " + h + ", groups: [c1/g1]}]",
		"bad cluster name":         "tokens: [{name: a, role: broker, sha256: " + h + ", clusters: [c/1]}]",
		"group without cluster":    "tokens: [{name: a, role: broker, sha256: " + h + ", groups: [g1]}]",
		"bad group name":           "tokens: [{name: a, role: broker, sha256: " + h + ", groups: [c1/..]}]",
		"certificate without name": "certificates: [{role: admin, commonName: x}]",
		"certificate subjectless":  "certificates: [{name: a, role: admin}]",
		"certificate both":         "certificates: [{name: a, role: admin, commonName: x, uri: \"spiffe://x\"}]",
		"same common name":         "certificates: [{name: a, role: admin, commonName: x}, {name: b, role: reader, commonName: x}]",
		"not YAML":                 "tokens: [",
		"a list":                   "- a",
	} {
		if _, err := auth.Parse([]byte(src)); err == nil {
			t.Errorf("%s: accepted %q", name, src)
		}
	}
	for _, empty := range []string{"", "tokens: []", "{}"} {
		c, err := auth.Parse([]byte(empty))
		if err != nil {
			t.Errorf("%q: %v", empty, err)
			continue
		}
		if _, ok := c.Token(""); ok {
			t.Errorf("%q: the empty token is known", empty)
		}
	}
}

func TestReloadSwapsOrKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tokens: [{name: one, role: admin, sha256: " + auth.HashToken("one") + "}]")
	a, err := auth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	before := a.Credentials()

	write("tokens: [{name: two, role: admin, sha256: " + auth.HashToken("two") + "}]")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Credentials().Token("one"); ok {
		t.Error("token one still known after the reload removed it")
	}
	if _, ok := a.Credentials().Token("two"); !ok {
		t.Error("token two unknown after the reload added it")
	}
	if _, ok := before.Token("one"); !ok {
		t.Error("credentials taken before the reload changed")
	}

	write("tokens: [{name: three, role: superuser, sha256: " + auth.HashToken("three") + "}]")
	if err := a.Reload(); err == nil {
		t.Fatal("a broken file reloaded without error")
	}
	if _, ok := a.Credentials().Token("two"); !ok {
		t.Error("a broken file replaced the credentials in use")
	}
	if _, err := auth.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestHashToken(t *testing.T) {
	// sha256("test"), as `printf test | sha256sum` prints it.
	if got := auth.HashToken("test"); got != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("HashToken(test) = %s", got)
	}
}
