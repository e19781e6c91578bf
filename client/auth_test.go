package client_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// TestToken: against a controller that authenticates its callers, a
// broker registers with a token of its group's scope; without one it is
// unauthenticated, with another group's it is forbidden.
func TestToken(t *testing.T) {
	hash := func(token string) string { s := sha256.Sum256([]byte(token)); return hex.EncodeToString(s[:]) }
	file := filepath.Join(t.TempDir(), "credentials.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`tokens:
  - {name: brokers-c1, role: broker, clusters: [c1], sha256: %s}
  - {name: brokers-c9, role: broker, clusters: [c9], sha256: %s}
`, hash("c1-secret"), hash("c9-secret"))), 0o600); err != nil {
		t.Fatal(err)
	}
	ctl := servertest.Start(t, storetest.Prefix(t), "r1", func(c *server.Config) { c.AuthFile = file })

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
