package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func freeURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// TestCompactOnceKeepsOnePeriodAndDefragments drives the embedded
// member's maintenance step by step: each step compacts to the revision
// the previous one saw, so the history since then stays readable and
// everything older is gone; once most of the file is free it is
// defragmented.
func TestCompactOnceKeepsOnePeriodAndDefragments(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), Name: "compact", ClientURL: freeURL(t), PeerURL: freeURL(t),
		StartTimeout: 30 * time.Second, UnsafeNoFsync: true, LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.Open(ClientConfig{Prefix: "/compact/"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	value := strings.Repeat("x", 100<<10)
	put := func(n int) {
		for i := range n {
			if _, err := s.cli.Put(ctx, "/compact/hb", fmt.Sprintf("%d %s", i, value)); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(400) // 40 MiB of history of one key
	first, err := e.compactOnce(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli.Get(ctx, "/compact/hb", clientv3.WithRev(2)); err != nil {
		t.Fatalf("the first step compacted (nothing to compact to yet): %v", err)
	}
	put(3)
	sizeBefore := e.etcd.Server.Backend().Size()
	second, err := e.compactOnce(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if second <= first {
		t.Fatalf("revisions %d then %d", first, second)
	}
	if _, err := s.cli.Get(ctx, "/compact/hb", clientv3.WithRev(first-1)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("read below the compacted revision %d: %v, want compacted", first, err)
	}
	for rev := first; rev <= second; rev++ {
		if _, err := s.cli.Get(ctx, "/compact/hb", clientv3.WithRev(rev)); err != nil {
			t.Fatalf("read at %d, within the period kept: %v", rev, err)
		}
	}
	be := e.etcd.Server.Backend()
	if size := be.Size(); size > sizeBefore/2 || shouldDefrag(size, be.SizeInUse()) {
		t.Fatalf("database file %d bytes after the step (%d in use), %d before: not defragmented", size, be.SizeInUse(), sizeBefore)
	}
}

func TestShouldDefrag(t *testing.T) {
	for _, c := range []struct {
		size, inUse int64
		want        bool
	}{
		{0, 0, false},
		{100 << 20, 90 << 20, false}, // little free
		{64 << 20, 16 << 20, true},   // 48 MiB free, three quarters
		{40 << 20, 20 << 20, false},  // half free, but only 20 MiB
		{1 << 30, 500 << 20, true},   // more than half of a large file
		{1 << 30, 600 << 20, false},  // less than half
		{128 << 20, 64 << 20, true},  // exactly half, 64 MiB
	} {
		if got := shouldDefrag(c.size, c.inUse); got != c.want {
			t.Errorf("shouldDefrag(%d, %d) = %v, want %v", c.size, c.inUse, got, c.want)
		}
	}
}
