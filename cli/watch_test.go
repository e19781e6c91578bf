package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/internal/logtest"
)

func TestGroupGetWatch(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out logtest.Buffer
	done := make(chan result, 1)
	go func() {
		done <- invocation{ctx: ctx, stdout: &out}.run("--controller", base, "group", "get", "c1", "g1", "--watch")
	}()
	eventually(t, func() bool { return strings.Contains(out.String(), "10.0.0.2:10911") })
	if n := strings.Count(out.String(), "--- index"); n != 1 {
		t.Fatalf("%d states printed before any change:\n%s", n, out.String())
	}

	// A change while watching: a third broker registers.
	register(t, base, "c1", "g1", "code-d", "10.0.0.3:10911")
	eventually(t, func() bool { return strings.Contains(out.String(), "10.0.0.3:10911") })
	if n := strings.Count(out.String(), "--- index"); n != 2 {
		t.Errorf("%d states printed after one change, want 2:\n%s", n, out.String())
	}

	cancel()
	select {
	case r := <-done:
		if r.err != nil || r.code != 0 {
			t.Errorf("watch ended with exit %d: %v", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop within 5s of its context ending")
	}
}
