package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/client"
)

// TestSilentEtcdLink: the link between the only controller replica and a
// healthy external etcd goes silent for 8 s (a proxy that keeps every
// connection open and forwards nothing) and then heals. The brokers
// (timeout 3 s, a heartbeat every 400 ms) cannot renew their leases, and
// etcd expires them; no broker changes role and the election history is
// unchanged, because the replica counts its grace from the healing and
// the brokers come alive again within it.
func TestSilentEtcdLink(t *testing.T) {
	const timeout, interval, silence = 3 * time.Second, 400 * time.Millisecond, 8 * time.Second
	dir := t.TempDir()
	peer, etcdURL := "http://"+freeAddr(t), "http://"+freeAddr(t)
	etcd := &etcdMember{name: "e1", clientURL: etcdURL, process: newProcess(t, dir, "etcd", etcdBinary,
		"--name", "e1", "--data-dir", filepath.Join(dir, "e1"), "--listen-client-urls", etcdURL,
		"--advertise-client-urls", etcdURL, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e1="+peer, "--initial-cluster-state", "new", "--log-level", "error", "--unsafe-no-fsync")}
	etcd.waitHealthy(t)
	link := newProxy(t, strings.TrimPrefix(etcdURL, "http://"))
	listen := freeAddr(t)
	controller := "http://" + listen
	newProcess(t, dir, "controller", binary, "serve", "--listen", listen, "--replica-id", "c1",
		"--etcd-endpoints", "http://"+link.addr(), "--remoting-advertise", listen, "--shutdown-timeout", "5s")
	waitFor(t, "the controller ready", 60*time.Second, func() bool { return client.Ready(context.Background(), http.DefaultClient, controller) })
	admin, err := client.NewTransport(client.TransportOptions{Controllers: []string{controller}})
	if err != nil {
		t.Fatal(err)
	}

	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	var watchers sync.WaitGroup
	t.Cleanup(func() { cancel(); watchers.Wait() })
	for i := range 2 {
		name := fmt.Sprintf("g1-b%d", i+1)
		addr := freeAddr(t)
		newProcess(t, dir, name, brokersimBinary, "serve", "--protocol", brokersim.ProtocolREST, "--listen", addr,
			"--controller", controller, "--cluster", "e2e", "--group", "g1", "--data-dir", filepath.Join(dir, name),
			"--heartbeat-timeout", timeout.String(), "--heartbeat-interval", interval.String())
		watchers.Go(func() {
			for ctx.Err() == nil {
				sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				s, err := brokersim.ReadStatus(sctx, http.DefaultClient, addr)
				cancel()
				if err == nil && s.Role != "" {
					rec.add(observation{At: time.Now(), Group: "g1", Source: name, Broker: s.BrokerID, Role: s.Role,
						Epoch: s.MasterEpoch, Master: s.MasterBrokerID, SyncStateSet: s.SyncStateSet})
				}
				sleep(ctx, 50*time.Millisecond)
			}
		})
	}
	read := func() *client.Group {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		v, _, err := admin.PollGroup(rctx, "e2e", "g1", -1, 0)
		if err != nil {
			return nil
		}
		return v
	}
	paired := func(v *client.Group) bool {
		if v == nil || v.MasterBrokerID == nil || len(v.Brokers) != 2 || len(v.SyncStateSet) != 2 {
			return false
		}
		return v.Brokers[0].Alive && v.Brokers[1].Alive
	}
	waitFor(t, "a master with its slave in the SyncStateSet", 60*time.Second, func() bool { return paired(read()) })
	before := read()
	// Past the grace: an election for an expired master would not wait.
	waitFor(t, "the controller connected for the brokers' timeout", 30*time.Second, func() bool {
		return connectedFor(controller) > timeout+time.Second
	})
	frozen := time.Now()
	link.freeze()
	time.Sleep(silence) // the fault: etcd expires every lease meanwhile
	link.thaw()
	thawed := time.Now()
	waitFor(t, "both brokers alive again", 30*time.Second, func() bool { return paired(read()) })
	revived := time.Since(thawed)
	waitFor(t, "the controller connected for the brokers' timeout again", 30*time.Second, func() bool {
		return connectedFor(controller) > timeout+time.Second
	})
	t.Logf("silent for %s; both brokers alive %s after the healing", thawed.Sub(frozen).Round(time.Millisecond), revived.Round(time.Millisecond))

	after := read()
	if after.MasterEpoch != before.MasterEpoch || *after.MasterBrokerID != *before.MasterBrokerID ||
		!slices.Equal(after.SyncStateSet, before.SyncStateSet) || after.SyncStateSetEpoch != before.SyncStateSetEpoch {
		t.Errorf("the group changed: before %+v, after %+v", before, after)
	}
	var h struct {
		Items []struct {
			MasterEpoch int64  `json:"masterEpoch"`
			Reason      string `json:"reason"`
		} `json:"items"`
	}
	if _, err := admin.Call(context.Background(), http.MethodGet, client.GroupPath("e2e", "g1", "history"), nil, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Items) != 1 {
		t.Errorf("history after the silence: %+v, want the first master only", h.Items)
	}
	hist := history{observations: rec.since(time.Time{})}
	for _, v := range hist.violations() {
		t.Error(v)
	}
	// Each broker's role and epoch as it last told them before the
	// silence, and whatever it told after.
	settled := map[string]observation{}
	for _, o := range hist.observations {
		was, seen := settled[o.Source]
		switch {
		case !o.At.After(frozen):
			settled[o.Source] = o
		case !seen:
			t.Errorf("%s told nothing before the silence", o.Source)
		case o.Role != was.Role || o.Epoch != was.Epoch:
			t.Errorf("%s changed role: %s, then %s", o.Source, was, o)
		}
	}
}

var connectedLine = regexp.MustCompile(`(?m)^ledgerless_etcd_connected_seconds ([0-9.e+-]+)$`)

// connectedFor reads how long the replica at base has been connected to
// etcd, from its /metrics; 0 when it does not answer.
func connectedFor(base string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	m := connectedLine.FindSubmatch(body)
	if m == nil {
		return 0
	}
	secs, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}
