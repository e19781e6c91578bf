package store

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless/internal/logtest"
)

// TestEmbeddedLogsAndStopsFast: etcd's own lines come out through the
// given slog logger, tagged component=etcd and without zap's JSON or
// stack traces; and Close takes well under etcd's 7 s request timeout
// although a gRPC client holds a watch and a lease keep-alive stream
// open on the member (as a second replica on this etcd does).
func TestEmbeddedLogsAndStopsFast(t *testing.T) {
	var logs logtest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), Name: "stop", ClientURL: freeURL(t), PeerURL: freeURL(t),
		StartTimeout: 30 * time.Second, UnsafeNoFsync: true, Logger: log, LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch := cli.Watch(ctx, "/stop/", clientv3.WithPrefix())
	if _, err := cli.Put(ctx, "/stop/a", "1"); err != nil {
		t.Fatal(err)
	}
	if w := <-watch; w.Err() != nil || len(w.Events) != 1 {
		t.Fatalf("watch: %v %v", w.Err(), w.Events)
	}
	lease, err := cli.Grant(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.KeepAlive(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	e.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %s with a watch and a keep-alive open; want well under etcd's 7 s request timeout", took)
	} else {
		t.Logf("Close took %s with a watch and a keep-alive open", took)
	}

	out := logs.String()
	if !strings.Contains(out, "component=etcd") {
		t.Errorf("no line of etcd's with component=etcd in the slog output:\n%s", out)
	}
	for _, bad := range []string{`{"level"`, "stacktrace", "goroutine "} {
		if strings.Contains(out, bad) {
			t.Errorf("etcd's lines contain %q:\n%s", bad, out)
		}
	}
}
