package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/internal/logtest"
	"github.com/ledgerless/ledgerless/tracing"
)

// A caller's trace context, as a broker would send it.
const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan   = "00f067aa0ba902b7"
	callerParent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

// recorder is a tracer provider that keeps every span in memory.
func recorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// traced sends a request with the caller's traceparent header.
func traced(t *testing.T, method, url, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", callerParent)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
}

// ended waits until a span named name of the caller's trace has ended (a
// server span ends just after its response is sent) and returns the
// caller's trace's spans.
func ended(t *testing.T, rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var spans []sdktrace.ReadOnlySpan
		found := false
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID().String() == callerTrace {
				spans = append(spans, s)
				found = found || s.Name() == name
			}
		}
		if found {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q in the caller's trace; spans: %v", name, names(rec.Ended()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func byName(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// descends reports whether s is below ancestor in spans.
func descends(spans []sdktrace.ReadOnlySpan, s, ancestor sdktrace.ReadOnlySpan) bool {
	parents := map[trace.SpanID]trace.SpanID{}
	for _, x := range spans {
		parents[x.SpanContext().SpanID()] = x.Parent().SpanID()
	}
	for id := s.Parent().SpanID(); id.IsValid(); id = parents[id] {
		if id == ancestor.SpanContext().SpanID() {
			return true
		}
	}
	return false
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestRequestTraceReachesEtcd follows a broker's registration and
// heartbeat from the caller's trace context through the server span and
// the use case into the etcd requests.
func TestRequestTraceReachesEtcd(t *testing.T) {
	tp, rec := recorder(t)
	base := newServerWith(t, replicaOptions{tracer: tp})
	// The replica's own etcd requests so far (its watch's start) were made
	// outside any trace: they make no spans.
	if spans := rec.Ended(); len(spans) != 0 {
		t.Errorf("spans before any request: %v", names(spans))
	}

	for _, tc := range []struct{ method, route, path, body, useCase string }{
		{"POST", "/v1/clusters/:cluster/groups/:group/brokers", "/brokers",
			`{"address":"127.0.0.1:10911","registerCode":"a"}`, "ledgerless.register"},
		{"PUT", "/v1/clusters/:cluster/groups/:group/brokers/:id/heartbeat", "/brokers/1/heartbeat",
			`{"epoch":1,"maxOffset":10,"confirmOffset":0,"electionPriority":0}`, "ledgerless.heartbeat"},
	} {
		t.Run(tc.useCase, func(t *testing.T) {
			rec.Reset()
			traced(t, tc.method, base+G+tc.path, tc.body, http.StatusOK)
			name := tc.method + " " + tc.route
			spans := ended(t, rec, name)
			server := byName(spans, name)
			if server.SpanKind() != trace.SpanKindServer || server.Parent().SpanID().String() != callerSpan || !server.Parent().IsRemote() {
				t.Fatalf("server span %s: kind %v, parent %v; want a server span below the caller's", name, server.SpanKind(), server.Parent())
			}
			uc := byName(spans, tc.useCase)
			if uc == nil || uc.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Fatalf("no %s span under the server span; spans: %v", tc.useCase, names(spans))
			}
			if attr(uc, tracing.Cluster).AsString() != "c" || attr(uc, tracing.Group).AsString() != "g" ||
				attr(uc, tracing.BrokerID).AsInt64() != 1 || attr(uc, tracing.Outcome).AsString() != "ok" ||
				attr(uc, tracing.MasterEpoch).AsInt64() != 1 {
				t.Errorf("%s attributes: %v", tc.useCase, uc.Attributes())
			}
			etcd := 0
			for _, s := range spans {
				if strings.HasPrefix(s.Name(), "etcdserverpb.") {
					etcd++
					if s.SpanKind() != trace.SpanKindClient || !descends(spans, s, uc) {
						t.Errorf("etcd span %s (kind %v) is not a client span below %s", s.Name(), s.SpanKind(), tc.useCase)
					}
				}
			}
			if etcd == 0 {
				t.Errorf("no etcd spans in the trace; spans: %v", names(spans))
			}
		})
	}
}

// jsonLines parses each line of a JSON log.
func jsonLines(log string) []map[string]any {
	var out []map[string]any
	for l := range strings.Lines(log) {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) == nil {
			out = append(out, line)
		}
	}
	return out
}

func TestRequestLogsCarryTraceID(t *testing.T) {
	tp, _ := recorder(t)
	var logs logtest.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&logs, nil)))
	base := newServerWith(t, replicaOptions{tracer: tp, log: log})

	traced(t, "POST", base+G+"/brokers", `{"address":"127.0.0.1:10911","registerCode":"a"}`, http.StatusOK)
	traced(t, "PATCH", base+"/v1/config", `{"enableElectUncleanMaster":true}`, http.StatusOK)
	want := map[string]bool{"election": false, "runtime config changed": false}
	for _, line := range jsonLines(logs.String()) {
		msg, _ := line["msg"].(string)
		if _, ok := want[msg]; !ok {
			continue
		}
		want[msg] = true
		if line["trace_id"] != callerTrace {
			t.Errorf("log line %v: trace_id %v, want %s", msg, line["trace_id"], callerTrace)
		}
		if id, _ := line["span_id"].(string); len(id) != 16 || id == callerSpan {
			t.Errorf("log line %v: span_id %q, want the replica's span", msg, id)
		}
	}
	for msg, seen := range want {
		if !seen {
			t.Errorf("no %q line in the logs:\n%s", msg, logs.String())
		}
	}
}

// scrape reads /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	status, _, body := do(t, "GET", base+"/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics: status %d", status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, body)
	}
	return families
}

// value returns the value of the series of family name with the given
// labels (name=value pairs): a counter's or gauge's value, a histogram's
// count; -1 when there is no such series.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
series:
	for _, m := range f.Metric {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// eventuallyMetric waits until the series has the value want.
func eventuallyMetric(t *testing.T, base string, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := value(scrape(t, base), name, labels...); got != want; got = value(scrape(t, base), name, labels...) {
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsAfterRegistrationAndElection(t *testing.T) {
	base := newServerWith(t, replicaOptions{reconcile: 50 * time.Millisecond})
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"a"}`)
	register(t, base, G, `{"address":"127.0.0.1:10921","registerCode":"b"}`)
	call(t, http.StatusOK, "POST", base+G+"/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`)
	for range 3 {
		call(t, http.StatusOK, "PUT", base+G+"/brokers/2/heartbeat", `{"epoch":1,"maxOffset":10,"confirmOffset":0,"electionPriority":0}`)
	}
	call(t, http.StatusNotFound, "PUT", base+G+"/brokers/9/heartbeat", `{}`)
	call(t, http.StatusConflict, "POST", base+G+"/elect", `{"brokerId":1}`) // already master
	call(t, http.StatusNoContent, "DELETE", base+G+"/brokers/1/lease", "")  // the master resigns: broker 2 takes over
	eventuallyMetric(t, base, 1, "ledgerless_alive_brokers")
	eventuallyMetric(t, base, 0, "ledgerless_groups_without_master")

	// A long poll waits.
	_, h := call(t, http.StatusOK, "GET", base+G, "")
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		_, _, _, _ = try("GET", base+G+"?wait=30s&index="+h.Get(handlers.IndexHeader), "")
	}()
	eventuallyMetric(t, base, 1, "ledgerless_longpoll_waiters")
	call(t, http.StatusOK, "PUT", base+G+"/brokers/1/heartbeat", `{}`) // broker 1 alive again: the poll answers
	<-polled
	eventuallyMetric(t, base, 0, "ledgerless_longpoll_waiters")

	m := scrape(t, base)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64 // -2: any positive value
	}{
		{"ledgerless_elections_total", []string{"reason", "first-master", "outcome", "elected"}, 1},
		{"ledgerless_elections_total", []string{"reason", "master-resigned", "outcome", "elected"}, 1},
		{"ledgerless_elections_total", []string{"reason", "admin", "outcome", "refused"}, 1},
		{"ledgerless_failover_seconds", []string{"reason", "master-resigned"}, 1},
		{"ledgerless_heartbeats_total", []string{"outcome", "ok"}, 4},
		{"ledgerless_heartbeats_total", []string{"outcome", "BROKER_NEED_TO_BE_REGISTERED"}, 1},
		{"ledgerless_heartbeat_duration_seconds", nil, 5},
		{"ledgerless_groups", nil, 1},
		{"ledgerless_etcd_request_duration_seconds", []string{"method", "Txn"}, -2},
		{"ledgerless_etcd_request_duration_seconds", []string{"method", "LeaseKeepAlive"}, -2},
		{"ledgerless_etcd_request_duration_seconds", []string{"method", "LeaseGrant"}, -2},
		{"ledgerless_http_requests_total", []string{"route", "/v1/clusters/:cluster/groups/:group/brokers", "method", "POST", "status", "200"}, 2},
		{"ledgerless_http_request_duration_seconds", []string{"route", "/v1/clusters/:cluster/groups/:group/brokers/:id/heartbeat", "method", "PUT"}, 5},
		{"go_goroutines", nil, -2},
		{"process_cpu_seconds_total", nil, -2},
	} {
		got := value(m, tc.name, tc.labels...)
		if (tc.want == -2 && got <= 0) || (tc.want != -2 && got != tc.want) {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	var timed float64
	for _, s := range m["ledgerless_failover_seconds"].GetMetric() {
		timed += s.GetHistogram().GetSampleSum()
	}
	if timed <= 0 {
		t.Errorf("ledgerless_failover_seconds records no time: %v", m["ledgerless_failover_seconds"])
	}
}

// TestLabelledMetricsFromTheStart: a fresh replica already serves every
// labelled series whose labels are known in advance, at 0, so that rates,
// dashboards and absent() alerts work before the first failover.
func TestLabelledMetricsFromTheStart(t *testing.T) {
	families := scrape(t, newServer(t))
	reasons := []string{"first-master", "master-lost", "master-resigned", "master-crashed", "no-master", "admin"}
	for _, reason := range reasons {
		for _, outcome := range []string{"elected", "no-candidate", "refused", "failed"} {
			if v := value(families, "ledgerless_elections_total", "reason", reason, "outcome", outcome); v != 0 {
				t.Errorf("ledgerless_elections_total{reason=%q,outcome=%q} = %v, want 0", reason, outcome, v)
			}
		}
	}
	for _, reason := range []string{"master-lost", "master-resigned", "master-crashed"} {
		if v := value(families, "ledgerless_failover_seconds", "reason", reason); v != 0 {
			t.Errorf("ledgerless_failover_seconds{reason=%q} count = %v, want 0", reason, v)
		}
	}
	for _, outcome := range []string{"ok", "BROKER_NEED_TO_BE_REGISTERED", "INVALID_REQUEST", "UNAVAILABLE", "INTERNAL"} {
		if v := value(families, "ledgerless_heartbeats_total", "outcome", outcome); v != 0 {
			t.Errorf("ledgerless_heartbeats_total{outcome=%q} = %v, want 0", outcome, v)
		}
	}
	for _, reason := range []string{"missing", "malformed", "invalid_token", "unknown_certificate", "invalid", "forbidden"} {
		if v := value(families, "ledgerless_auth_failures_total", "reason", reason); v != 0 {
			t.Errorf("ledgerless_auth_failures_total{reason=%q} = %v, want 0", reason, v)
		}
	}
	for _, outcome := range []string{"raised", "confirmed", "dismissed"} {
		if v := value(families, "ledgerless_crash_suspicions_total", "outcome", outcome); v != 0 {
			t.Errorf("ledgerless_crash_suspicions_total{outcome=%q} = %v, want 0", outcome, v)
		}
	}
}
