package client_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
	}
}

// options are a broker's options for group g1 of cluster c1 with the
// given controllers, heartbeating every 200 ms.
func options(t *testing.T, n int, controllers ...string) client.Options {
	return client.Options{Controllers: controllers, Cluster: "c1", Group: "g1",
		Address: fmt.Sprintf("127.0.0.1:%d", 10000+n), HeartbeatInterval: 200 * time.Millisecond,
		HeartbeatTimeout: 10 * time.Second, PollWait: 5 * time.Second}
}

// running is a broker whose Run runs until the test ends or stop.
type running struct {
	*client.Broker
	stop func() error // ends Run and returns its error
}

// run starts opts' broker and waits until it registered.
func run(t *testing.T, opts client.Options) *running {
	t.Helper()
	b, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	var runErr error
	r := &running{Broker: b, stop: func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("broker %d: Run: %v", b.ID(), err)
		}
	})
	eventually(t, func() bool { return b.ID() != 0 })
	return r
}

// nextRole waits for b's next role change.
func nextRole(t *testing.T, b *client.Broker) client.View {
	t.Helper()
	select {
	case v := <-b.RoleChanges():
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("broker %d: no role change within 20s (view %+v)", b.ID(), b.View())
		return client.View{}
	}
}

// admin is a transport for admin calls to the controllers.
func admin(t *testing.T, controllers ...string) *client.Transport {
	t.Helper()
	tr, err := client.NewTransport(client.TransportOptions{Controllers: controllers})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
