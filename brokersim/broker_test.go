package brokersim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// sim is a simulated broker running in-process.
type sim struct {
	addr string
	stop func() // graceful, as on SIGTERM; idempotent
}

// startBroker runs a broker of group c1/g1 keeping its data in dataDir.
func startBroker(t *testing.T, dataDir string, configure func(*brokersim.Config), controllers ...string) *sim {
	t.Helper()
	cfg := brokersim.Config{Listen: storetest.FreeAddr(), Controllers: controllers, Cluster: "c1", Group: "g1",
		DataDir: dataDir, HeartbeatInterval: 200 * time.Millisecond, HeartbeatTimeout: 10 * time.Second}
	if configure != nil {
		configure(&cfg)
	}
	b, err := brokersim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	s := &sim{addr: cfg.Listen, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("broker %s: %v", cfg.Listen, err)
			}
		})
	}}
	t.Cleanup(s.stop)
	return s
}

func status(t *testing.T, addr string) brokersim.Status {
	t.Helper()
	s, err := brokersim.ReadStatus(context.Background(), http.DefaultClient, addr)
	if err != nil {
		return brokersim.Status{}
	}
	return s
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
	}
}

// masterWithSet waits until one of brokers is master with a SyncStateSet
// of at least n members above epoch after, and returns it.
func masterWithSet(t *testing.T, n int, after int64, brokers ...*sim) *sim {
	t.Helper()
	var master *sim
	eventually(t, "a master with a full SyncStateSet", func() bool {
		for _, b := range brokers {
			if s := status(t, b.addr); s.Role == ledgerless.RoleMaster && s.MasterEpoch > after && len(s.SyncStateSet) >= n {
				master = b
				return true
			}
		}
		return false
	})
	return master
}

func readJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// produce sends count messages through the group and returns the acks.
func produce(t *testing.T, prefix string, count int64, brokers ...*sim) []brokersim.Ack {
	t.Helper()
	var out bytes.Buffer
	cfg := brokersim.ProducerConfig{Prefix: prefix, Count: count, Acks: &out}
	for _, b := range brokers {
		cfg.Brokers = append(cfg.Brokers, b.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stats, err := brokersim.Produce(ctx, cfg)
	if err != nil || stats.Acked != count {
		t.Fatalf("produce: %+v, %v", stats, err)
	}
	var acks []brokersim.Ack
	dec := json.NewDecoder(&out)
	for dec.More() {
		var a brokersim.Ack
		if err := dec.Decode(&a); err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	return acks
}

// holdsAll checks that the broker's log holds every acknowledged entry at
// its offset, and that it truncated none of them.
func holdsAll(t *testing.T, b *sim, acks []brokersim.Ack) {
	t.Helper()
	var log, truncated brokersim.LogAnswer
	readJSON(t, "http://"+b.addr+"/log", &log)
	readJSON(t, "http://"+b.addr+"/truncated", &truncated)
	for _, a := range acks {
		if a.Offset >= int64(len(log.Entries)) || log.Entries[a.Offset] != (brokersim.Entry{Epoch: a.Epoch, Offset: a.Offset, Payload: a.Payload}) {
			t.Errorf("broker %s lacks acknowledged %+v", b.addr, a)
		}
		if slices.Contains(truncated.Entries, brokersim.Entry{Epoch: a.Epoch, Offset: a.Offset, Payload: a.Payload}) {
			t.Errorf("broker %s truncated acknowledged %+v", b.addr, a)
		}
	}
}

// TestReplicationAndFailover: the master acknowledges only what every
// SyncStateSet member has; after it resigns, a member takes over with
// every acknowledged message, and the old master, restarted on its data,
// rejoins as a slave and catches up.
func TestReplicationAndFailover(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	brokers := make([]*sim, 3)
	for i := range brokers {
		brokers[i] = startBroker(t, dirs[i], nil, ctl.URL)
	}
	first := masterWithSet(t, 3, 0, brokers...)
	acks := produce(t, "m-", 30, brokers...)
	for _, b := range brokers {
		holdsAll(t, b, acks) // every member had them when they were acknowledged
	}

	first.stop()
	var rest []*sim
	for _, b := range brokers {
		if b != first {
			rest = append(rest, b)
		}
	}
	second := masterWithSet(t, 2, status(t, rest[0].addr).MasterEpoch-1, rest...)
	acks = append(acks, produce(t, "n-", 30, rest...)...)
	holdsAll(t, second, acks)

	i := slices.Index(brokers, first)
	brokers[i] = startBroker(t, dirs[i], nil, ctl.URL)
	eventually(t, "the old master back in the SyncStateSet", func() bool {
		s := status(t, second.addr)
		return s.Role == ledgerless.RoleMaster && len(s.SyncStateSet) == 3
	})
	s := status(t, brokers[i].addr)
	if s.Role != ledgerless.RoleSlave || s.MasterBrokerID != status(t, second.addr).BrokerID {
		t.Errorf("restarted old master: %+v", s)
	}
	acks = append(acks, produce(t, "o-", 10, brokers...)...)
	for _, b := range brokers {
		holdsAll(t, b, acks)
	}
}

// cuttable is a proxy to a controller replica that can be cut off, as a
// network partition would: requests in flight fail too.
type cuttable struct {
	url string
	mu  sync.Mutex
	cut chan struct{} // closed when cut
}

func newCuttable(t *testing.T, target string) *cuttable {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &cuttable{cut: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // cut requests are the point
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		c.mu.Lock()
		cut := c.cut
		c.mu.Unlock()
		select {
		case <-cut:
			http.Error(w, "partitioned", http.StatusBadGateway)
			return
		default:
		}
		go func() {
			select {
			case <-cut:
				cancel()
			case <-ctx.Done():
			}
		}()
		proxy.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// set cuts the link off, or mends it.
func (c *cuttable) set(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.cut:
		if !cut {
			c.cut = make(chan struct{})
		}
	default:
		if cut {
			close(c.cut)
		}
	}
}

// TestPartitionedMaster cuts the master off from the controller but not
// from its slaves: a slave is elected at a higher epoch, the slaves
// refuse the old master, and it acknowledges nothing more; back in
// touch, it learns it is a slave and truncates what it wrote meanwhile.
func TestPartitionedMaster(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	short := func(c *brokersim.Config) { c.HeartbeatTimeout, c.AckTimeout = 2*time.Second, 500*time.Millisecond }
	link := newCuttable(t, ctl.URL)
	old := startBroker(t, t.TempDir(), short, link.url)
	masterWithSet(t, 1, 0, old)
	brokers := []*sim{old, startBroker(t, t.TempDir(), short, ctl.URL), startBroker(t, t.TempDir(), short, ctl.URL)}
	masterWithSet(t, 3, 0, brokers...)
	acks := produce(t, "m-", 10, brokers...)
	epoch := status(t, old.addr).MasterEpoch

	link.set(true)
	next := masterWithSet(t, 1, epoch, brokers[1:]...)
	stale := status(t, old.addr)
	if stale.Role != ledgerless.RoleMaster || stale.MasterEpoch != epoch {
		t.Fatalf("the cut-off master: %+v", stale)
	}
	// It takes the write but cannot have it acknowledged.
	resp, err := http.Post("http://"+old.addr+"/produce", "text/plain", strings.NewReader("stale"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("the cut-off master acknowledged a write after %s was elected", next.addr)
	}
	acks = append(acks, produce(t, "n-", 10, brokers[1:]...)...)

	link.set(false)
	eventually(t, "the old master a slave that caught up", func() bool {
		s := status(t, old.addr)
		return s.Role == ledgerless.RoleSlave && s.MasterEpoch > epoch && s.MaxOffset == status(t, next.addr).MaxOffset
	})
	var truncated brokersim.LogAnswer
	readJSON(t, "http://"+old.addr+"/truncated", &truncated)
	if len(truncated.Entries) != 1 || truncated.Entries[0].Payload != "stale" {
		t.Errorf("the old master truncated %+v, want its stale write", truncated.Entries)
	}
	for _, b := range brokers {
		holdsAll(t, b, acks)
	}
}

// TestLeaseFencing: a master with lease fencing that cannot reach the
// controller refuses writes once its lease may have run out, even when
// it alone is the SyncStateSet and could acknowledge them.
func TestLeaseFencing(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	link := newCuttable(t, ctl.URL)
	b := startBroker(t, "", func(c *brokersim.Config) { c.HeartbeatTimeout, c.LeaseFencing = 2*time.Second, true }, link.url)
	masterWithSet(t, 1, 0, b)
	produce(t, "m-", 3, b)
	if s := status(t, b.addr); s.ConfirmOffset != 3 {
		t.Errorf("confirmOffset %d of a master alone in its SyncStateSet, want 3", s.ConfirmOffset)
	}

	link.set(true)
	eventually(t, "the lease run out", func() bool { return status(t, b.addr).LeaseRemainingMs == 0 })
	resp, err := http.Post("http://"+b.addr+"/produce", "text/plain", strings.NewReader("fenced"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "lease") {
		t.Errorf("write after the lease ran out: %s %s", resp.Status, body)
	}
	if s := status(t, b.addr); s.Role != ledgerless.RoleMaster || s.MaxOffset != 3 {
		t.Errorf("the fenced master took the write: %+v", s)
	}

	link.set(false)
	eventually(t, "writes again once heartbeats are acknowledged", func() bool {
		resp, err := http.Post("http://"+b.addr+"/produce", "text/plain", strings.NewReader("again"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
