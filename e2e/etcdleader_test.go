package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/client"
)

// answer is one response the load of TestEtcdLeaderKilledUnderLoad got.
type answer struct {
	worker      string
	method, url string
	at          time.Time
	status      int
	retryAfter  string
	contentType string
	index       string // X-Ledgerless-Index
	body        string
}

// loadRecorder keeps every answer of the load and counts, per worker, the
// successful ones.
type loadRecorder struct {
	mu      sync.Mutex
	answers []answer
	ok      map[string]int
}

func (r *loadRecorder) add(a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, a)
	if a.status < 300 {
		r.ok[a.worker]++
	}
}

// okSince returns, per worker, the successful answers at or after from.
func (r *loadRecorder) okSince(from time.Time) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, a := range r.answers {
		if a.status < 300 && !a.at.Before(from) {
			out[a.worker]++
		}
	}
	return out
}

// TestEtcdLeaderKilledUnderLoad kills the etcd leader while brokers
// heartbeat, register, read and long-poll through two controller replicas, and
// checks every answer: a leader change is unavailability, retried within
// the request or answered 503 with Retry-After, never another 5xx. The
// load goes on until every worker succeeded again after the kill.
func TestEtcdLeaderKilledUnderLoad(t *testing.T) {
	dir := t.TempDir()
	members, clients := startEtcdCluster(t, dir)
	var urls []string
	for i := range 2 {
		listen := freeAddr(t)
		urls = append(urls, "http://"+listen)
		newProcess(t, dir, fmt.Sprintf("controller-%d", i+1), binary, "serve", "--listen", listen,
			"--replica-id", fmt.Sprintf("c%d", i+1), "--etcd-endpoints", strings.Join(clients, ","), "--shutdown-timeout", "5s")
	}
	for _, u := range urls {
		waitFor(t, u+" ready", 60*time.Second, func() bool { return client.Ready(context.Background(), http.DefaultClient, u) })
	}

	rec := &loadRecorder{ok: map[string]int{}}
	hc := &http.Client{Timeout: 30 * time.Second}
	send := func(worker, method, url, body string) answer {
		a := answer{worker: worker, method: method, url: url}
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return a
		}
		resp, err := hc.Do(req)
		a.at = time.Now()
		if err != nil {
			t.Errorf("%s %s: %v", method, url, err)
			return a
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.status, a.body = resp.StatusCode, string(b)
		a.retryAfter, a.contentType = resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type")
		a.index = resp.Header.Get(client.IndexHeader)
		rec.add(a)
		return a
	}
	group := func(url, g string) string { return url + "/v1/clusters/load/groups/" + g }

	ctx, stop := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	run := func(name string, step func(n int)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for n := 0; ctx.Err() == nil; n++ {
				step(n)
				sleep(ctx, 20*time.Millisecond)
			}
		}()
	}
	// Heartbeats: four brokers in two groups, each through one replica.
	for i := range 4 {
		name := fmt.Sprintf("heartbeat-%d", i+1)
		base := group(urls[i%2], fmt.Sprintf("h%d", i/2+1))
		var id int64
		for try := 0; id == 0; try++ {
			if try == 100 {
				t.Fatalf("%s: no registration", name)
			}
			a := send(name, "POST", base+"/brokers", fmt.Sprintf(`{"address":"127.0.0.1:%d","registerCode":"hb-%d","heartbeatTimeoutMs":10000}`, 10911+i, i))
			var reg struct {
				BrokerID int64 `json:"brokerId"`
			}
			if a.status == http.StatusOK && json.Unmarshal([]byte(a.body), &reg) == nil {
				id = reg.BrokerID
			}
		}
		run(name, func(n int) {
			send(name, "PUT", fmt.Sprintf("%s/brokers/%d/heartbeat", base, id), fmt.Sprintf(`{"epoch":1,"maxOffset":%d}`, n))
		})
	}
	// Registrations: new brokers, 30 to a group.
	for i := range 2 {
		name := fmt.Sprintf("register-%d", i+1)
		run(name, func(n int) {
			send(name, "POST", group(urls[i], fmt.Sprintf("r%d-%d", i+1, n/30))+"/brokers",
				fmt.Sprintf(`{"address":"127.0.0.1:%d","registerCode":"reg-%d-%d"}`, 20000+n%30, i, n))
		})
	}
	// Reads: a group, its history, a cluster's groups, the configuration.
	for i := range 2 {
		name := fmt.Sprintf("read-%d", i+1)
		run(name, func(n int) {
			paths := []string{group(urls[i], "h1"), group(urls[i], "h2") + "/history", urls[i] + "/v1/clusters/load/groups", urls[i] + "/v1/config"}
			send(name, "GET", paths[n%len(paths)], "")
		})
	}
	// Long polls of a heartbeating group, from the index last answered.
	for i := range 2 {
		name := fmt.Sprintf("poll-%d", i+1)
		index := "0"
		run(name, func(int) {
			if a := send(name, "GET", group(urls[i], "h1")+"?wait=200ms&index="+index, ""); a.status == http.StatusOK {
				index = a.index
			}
		})
	}
	defer func() { stop(); workers.Wait() }()
	names := []string{"heartbeat-1", "heartbeat-2", "heartbeat-3", "heartbeat-4", "register-1", "register-2",
		"read-1", "read-2", "poll-1", "poll-2"}
	everyWorker := func(counts map[string]int, n int) bool {
		return !slices.ContainsFunc(names, func(name string) bool { return counts[name] < n })
	}
	waitFor(t, "every worker answered", 60*time.Second, func() bool { return everyWorker(rec.okSince(time.Time{}), 10) })

	var info struct {
		Etcd struct {
			Leader string `json:"leader"`
		} `json:"etcd"`
	}
	if err := getJSON(urls[0]+"/v1/controller", &info); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(members, func(m *etcdMember) bool { return m.name == info.Etcd.Leader })
	if i < 0 {
		t.Fatalf("etcd leader %q is none of the members", info.Etcd.Leader)
	}
	killed := time.Now()
	members[i].kill()
	t.Logf("killed etcd leader %s", members[i].name)
	waitFor(t, "every worker answered again after the kill", 90*time.Second, func() bool { return everyWorker(rec.okSince(killed), 20) })
	stop()
	workers.Wait()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	unavailable := 0
	for _, a := range rec.answers {
		switch {
		case a.status == http.StatusServiceUnavailable:
			unavailable++
			if a.retryAfter == "" || a.contentType != "application/problem+json" {
				t.Errorf("%s %s: 503 with Retry-After %q, Content-Type %q", a.method, a.url, a.retryAfter, a.contentType)
			}
		case a.status >= 500:
			t.Errorf("%s %s at %s (%s after the kill): %d %s", a.method, a.url, a.at.Format(time.RFC3339Nano),
				a.at.Sub(killed), a.status, a.body)
		case a.status >= 300:
			t.Errorf("%s %s: %d %s", a.method, a.url, a.status, a.body)
		}
	}
	t.Logf("%d answers, %d of them 503", len(rec.answers), unavailable)
}
