package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ledgerless/ledgerless/internal/logtest"
	"github.com/ledgerless/ledgerless/store"
)

// TestEtcdUnavailableIs503: with etcd out of reach (here the replica's
// store is closed, as while it shuts down), every route that needs etcd
// answers 503 UNAVAILABLE with Retry-After, never a 500, and the replica
// logs one line per kind of failure, not one per request.
func TestEtcdUnavailableIs503(t *testing.T) {
	var logs logtest.Buffer
	var st *store.Store
	base := newServerWith(t, replicaOptions{log: logs.Logger(), opened: func(s *store.Store) { st = s }})
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1","heartbeatTimeoutMs":60000}`)
	st.Close()
	requests := []struct{ method, path, body string }{
		{"PUT", G + "/brokers/1/heartbeat", `{"epoch":1,"maxOffset":10}`},
		{"POST", G + "/brokers", `{"address":"127.0.0.1:10921","registerCode":"code-2"}`},
		{"GET", G, ""},
		{"GET", G + "/history", ""},
		{"GET", "/v1/clusters", ""},
		{"GET", "/v1/config", ""},
		{"PATCH", "/v1/config", `{"paused":true}`},
		{"POST", G + "/elect", `{}`},
		{"GET", "/readyz", ""},
	}
	start := time.Now()
	const rounds = 5
	for range rounds {
		for _, r := range requests {
			status, h, body := do(t, r.method, base+r.path, r.body)
			problem(t, status, h, body, http.StatusServiceUnavailable, "UNAVAILABLE", 2)
			if h.Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", r.method, r.path)
			}
		}
	}
	// One line per route and code per interval: a run this short spans
	// at most two intervals.
	lines := map[string]int{}
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `msg="request failed"`) {
			lines[field(l, "method")+" "+field(l, "path")]++
		}
	}
	most := 1 + int(time.Since(start)/(10*time.Second))
	for _, r := range requests {
		if n := lines[r.method+" "+r.path]; n < 1 || n > most {
			t.Errorf("%s %s failed %d times and logged %d lines, want 1 to %d", r.method, r.path, rounds, n, most)
		}
	}
}

// field is the value of key in a text log line.
func field(line, key string) string {
	_, v, _ := strings.Cut(line, " "+key+"=")
	v, _, _ = strings.Cut(v, " ")
	return v
}

// TestClientHangUpIsNoFailure: a client that hangs up on a long poll
// gets no 5xx in the metrics and no warning in the log.
func TestClientHangUpIsNoFailure(t *testing.T) {
	var logs logtest.Buffer
	base := newServerWith(t, replicaOptions{log: logs.Logger()})
	_, h := register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1","heartbeatTimeoutMs":60000}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s%s?index=%d&wait=30s", base, G, index(t, h)), nil)
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the long poll answered %s", resp.Status)
		}
		polled <- err
	}()
	const route = "/v1/clusters/:cluster/groups/:group"
	waitMetric(t, base, "the long poll waiting", func(f map[string]*dto.MetricFamily) bool { return value(f, "ledgerless_longpoll_waiters") == 1 })
	cancel()
	if err := <-polled; !strings.Contains(fmt.Sprint(err), "context canceled") {
		t.Fatalf("long poll: %v", err)
	}
	// The poll is counted once its handler returned, as 499.
	waitMetric(t, base, "the long poll counted", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "ledgerless_http_requests_total", "route", route, "method", "GET", "status", "499") == 1
	})
	for _, m := range scrape(t, base)["ledgerless_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "status" && l.GetValue() >= "500" {
				t.Errorf("a request was answered %s: %v", l.GetValue(), m)
			}
		}
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a client hanging up was logged:\n%s", logs.String())
	}
}

// waitMetric scrapes base's metrics until cond holds of them.
func waitMetric(t *testing.T, base, what string, cond func(map[string]*dto.MetricFamily) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(scrape(t, base)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// TestConfigIfMatch: the configuration's ETag is its revision; a PATCH
// with If-Match applies only to that revision and answers 412 otherwise,
// changing nothing.
func TestConfigIfMatch(t *testing.T) {
	base := newServer(t)
	patch := func(ifMatch, body string) (int, http.Header, []byte) {
		req, err := http.NewRequest("PATCH", base+"/v1/config", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/merge-patch+json")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	_, h := call(t, http.StatusOK, "GET", base+"/v1/config", "")
	first := h.Get("ETag")
	if first != `"0"` {
		t.Fatalf("ETag of the default configuration: %q, want \"0\"", first)
	}
	status, h, body := patch(first, `{"pausedGroups":["c/g1"]}`)
	if status != http.StatusOK {
		t.Fatalf("PATCH with the current ETag: %d %s", status, body)
	}
	second := h.Get("ETag")
	if second == "" || second == first {
		t.Fatalf("ETag after the change: %q (before: %q)", second, first)
	}
	if _, h := call(t, http.StatusOK, "GET", base+"/v1/config", ""); h.Get("ETag") != second {
		t.Errorf("GET after PATCH: ETag %q, the PATCH answered %q", h.Get("ETag"), second)
	}
	// The first ETag is stale now: a write based on it would drop c/g1.
	for _, stale := range []string{first, `"999999"`, `W/` + second, `"x"`} {
		status, h, body = patch(stale, `{"pausedGroups":["c/g2"]}`)
		problem(t, status, h, body, http.StatusPreconditionFailed, "PRECONDITION_FAILED", 2005)
	}
	status, h, body = patch(`0`, `{"pausedGroups":["c/g2"]}`)
	problem(t, status, h, body, http.StatusBadRequest, "INVALID_REQUEST", 2005)
	cfg, _ := call(t, http.StatusOK, "GET", base+"/v1/config", "")
	check(t, cfg, "pausedGroups", []string{"c/g1"})
	// A list that names the current revision, and *, match.
	for _, ok := range []string{first + ", " + second, "*"} {
		if status, _, body := patch(ok, `{"paused":false}`); status != http.StatusOK {
			t.Errorf("If-Match %s: %d %s", ok, status, body)
		}
		_, h := call(t, http.StatusOK, "GET", base+"/v1/config", "")
		first, second = second, h.Get("ETag")
	}
}
