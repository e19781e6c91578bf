package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// authController runs a controller that authenticates its callers: c1Token
// is a broker's of cluster c1, c9Token one of cluster c9.
func authController(t *testing.T, c1Token, c9Token string) *servertest.Replica {
	t.Helper()
	file := filepath.Join(t.TempDir(), "credentials.yaml")
	writeFile(t, file, fmt.Sprintf(`tokens:
  - {name: brokers-c1, role: broker, clusters: [c1], sha256: %s}
  - {name: brokers-c9, role: broker, clusters: [c9], sha256: %s}
`, auth.HashToken(c1Token), auth.HashToken(c9Token)))
	return servertest.Start(t, storetest.Prefix(t), "r1", func(c *server.Config) { c.AuthFile = file })
}

// TestToken: against a controller that authenticates its callers, a
// broker registers with a token of its group's scope; without one it is
// unauthenticated, with another group's it is forbidden.
func TestToken(t *testing.T) {
	ctl := authController(t, "c1-secret", "c9-secret")

	opts := options(t, 1, ctl.URL)
	opts.Token = "c1-secret"
	if r := run(t, opts); r.ID() != 1 {
		t.Fatalf("broker with a token: id %d", r.ID())
	}
	for _, tc := range []struct {
		token string
		want  error
	}{{"", ledgerless.ErrUnauthenticated}, {"wrong", ledgerless.ErrUnauthenticated}, {"c9-secret", ledgerless.ErrForbidden}} {
		opts := options(t, 2, ctl.URL)
		opts.Token = tc.token
		b, err := client.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		var p *client.Problem
		if err := b.Run(ctxT(t)); !errors.Is(err, tc.want) || !errors.As(err, &p) || !p.Refused() {
			t.Errorf("token %q: Run: %v, want %v", tc.token, err, tc.want)
		}
	}
}

// TestTokenFileReadAgain: a token file is read again after a 401, and the
// refused request, a POST included, is sent once more with the new token.
func TestTokenFileReadAgain(t *testing.T) {
	ctl := authController(t, "c1-rotated-secret", "c9-secret")
	file := filepath.Join(t.TempDir(), "token")
	writeFile(t, file, "c1-old-secret\n")
	tr, err := client.NewTransport(client.TransportOptions{Controllers: []string{ctl.URL}, TokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	register := map[string]string{"address": "127.0.0.1:10001", "registerCode": "code-1"}
	path := client.GroupPath("c1", "g1", "brokers")
	if _, err := tr.Do(ctxT(t), http.MethodPost, path, register); !errors.Is(err, ledgerless.ErrUnauthenticated) {
		t.Fatalf("with the old token: %v", err)
	}
	writeFile(t, file, "c1-rotated-secret\n")
	if _, err := tr.Do(ctxT(t), http.MethodPost, path, register); err != nil {
		t.Fatalf("after the token file changed: %v", err)
	}
	opts := options(t, 2, ctl.URL)
	opts.TokenFile = file
	if r := run(t, opts); r.ID() != 2 {
		t.Fatalf("broker with a token file: id %d", r.ID())
	}
}
