package remoting

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// controller is one replica serving the remoting protocol on 127.0.0.1.
type controller struct {
	svc   *service.Service
	srv   *Server
	store *store.Store
	addr  string
}

// startController starts a replica with its own etcd client on the
// shared embedded etcd, under prefix.
func startController(t testing.TB, prefix, id string, opts ...func(*Options)) *controller {
	t.Helper()
	return startControllerWith(t, prefix, id, service.Options{}, opts...)
}

// startControllerWith is startController with service options; their
// store, replica id, reconcile period and tracer are set here.
func startControllerWith(t testing.TB, prefix, id string, sopts service.Options, opts ...func(*Options)) *controller {
	t.Helper()
	st := storetest.Open(t, prefix)
	var o Options
	for _, f := range opts {
		f(&o)
	}
	sopts.Store, sopts.ReplicaID, sopts.Reconcile, sopts.TracerProvider = st, id, 200*time.Millisecond, o.TracerProvider
	svc := service.New(sopts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			t.Errorf("replica %s: %v", id, err)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Service, o.ReplicaID, o.Address = svc, id, ln.Addr().String()
	srv := NewServer(o)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	notifier := NewNotifier(svc, nil)
	svc.OnElection(notifier.Elected)
	notified := make(chan error, 1)
	go func() { notified <- notifier.Run(ctx) }()
	t.Cleanup(func() {
		_ = ln.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		cancel()
		<-done
		<-notified
	})
	return &controller{svc: svc, srv: srv, store: st, addr: ln.Addr().String()}
}

func dial(t testing.TB, addr string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func invoke(t testing.TB, c *Client, req *Command) *Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatalf("invoke %d: %v", req.Code, err)
	}
	return resp
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func groupOf(t testing.TB, svc *service.Service, g ledgerless.GroupKey) *ledgerless.Group {
	t.Helper()
	grp, err := svc.Group(context.Background(), g)
	if err != nil {
		return nil
	}
	return grp
}
