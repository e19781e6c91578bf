package client_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/internal/logtest"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
	"github.com/ledgerless/ledgerless/tracing"
)

// recorder is a tracer provider that keeps every span in memory, as the
// exporter of one process would see them.
func recorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// find returns the first ended span of rec that matches.
func find(rec *tracetest.SpanRecorder, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	for _, s := range rec.Ended() {
		if match(s) {
			return s
		}
	}
	return nil
}

// below matches the spans of rec whose name starts with prefix and that
// descend from ancestor.
func below(rec *tracetest.SpanRecorder, ancestor sdktrace.ReadOnlySpan, prefix string) func(sdktrace.ReadOnlySpan) bool {
	parents := map[trace.SpanID]trace.SpanID{}
	for _, s := range rec.Ended() {
		parents[s.SpanContext().SpanID()] = s.Parent().SpanID()
	}
	return func(s sdktrace.ReadOnlySpan) bool {
		if !strings.HasPrefix(s.Name(), prefix) || s.SpanContext().TraceID() != ancestor.SpanContext().TraceID() {
			return false
		}
		for id := s.Parent().SpanID(); id.IsValid(); id = parents[id] {
			if id == ancestor.SpanContext().SpanID() {
				return true
			}
		}
		return false
	}
}

func hasAttr(s sdktrace.ReadOnlySpan, kv attribute.KeyValue) bool {
	return slices.Contains(s.Attributes(), kv)
}

// TestHeartbeatIsOneTrace: the broker's heartbeat, recorded by the
// broker's tracer provider, continues on the controller, recorded by the
// controller's: broker span → server span → use case → etcd request.
func TestHeartbeatIsOneTrace(t *testing.T) {
	ctlTP, ctlSpans := recorder(t)
	ctl := servertest.Start(t, storetest.Prefix(t), "r1", func(c *server.Config) { c.TracerProvider = ctlTP })
	brokerTP, brokerSpans := recorder(t)
	opts := options(t, 1, ctl.URL)
	opts.TracerProvider = brokerTP
	r := run(t, opts)

	var beat, srv, uc, etcd sdktrace.ReadOnlySpan
	eventually(t, func() bool {
		for _, b := range brokerSpans.Ended() {
			if b.Name() != "broker.heartbeat" {
				continue
			}
			beat = b
			srv = find(ctlSpans, func(s sdktrace.ReadOnlySpan) bool {
				return s.Parent().SpanID() == b.SpanContext().SpanID() && s.Parent().IsRemote()
			})
			if srv == nil {
				continue
			}
			uc = find(ctlSpans, func(s sdktrace.ReadOnlySpan) bool {
				return s.Name() == "ledgerless.heartbeat" && s.Parent().SpanID() == srv.SpanContext().SpanID()
			})
			if uc == nil {
				continue
			}
			if etcd = find(ctlSpans, below(ctlSpans, uc, "etcdserverpb.")); etcd != nil {
				return true
			}
		}
		return false
	})
	if beat.SpanKind() != trace.SpanKindClient || !hasAttr(beat, tracing.BrokerID.Int64(r.ID())) ||
		!hasAttr(beat, tracing.Group.String("g1")) || !hasAttr(beat, tracing.Outcome.String("ok")) {
		t.Errorf("broker span %s: kind %v, attributes %v", beat.Name(), beat.SpanKind(), beat.Attributes())
	}
	if srv.SpanKind() != trace.SpanKindServer || srv.Name() != "PUT /v1/clusters/:cluster/groups/:group/brokers/:id/heartbeat" {
		t.Errorf("the broker's heartbeat went on as %s (kind %v)", srv.Name(), srv.SpanKind())
	}
	if etcd.SpanKind() != trace.SpanKindClient {
		t.Errorf("etcd span %s: kind %v", etcd.Name(), etcd.SpanKind())
	}
}

// TestLogLinesCarryTheirTrace: the SDK's lines about one request name the
// trace of that request's span.
func TestLogLinesCarryTheirTrace(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	tp, spans := recorder(t)
	var log logtest.Buffer
	opts := options(t, 1, ctl.URL)
	opts.TracerProvider, opts.Logger = tp, log.Logger()
	r := run(t, opts)
	if err := r.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, line := range map[string]string{"broker.register": "msg=registered", "broker.resign": "msg=resigned"} {
		span := find(spans, func(s sdktrace.ReadOnlySpan) bool { return s.Name() == name })
		if span == nil {
			t.Fatalf("no %s span", name)
		}
		want := line + " cluster=c1 group=g1 brokerId=1"
		got := ""
		for l := range strings.Lines(log.String()) {
			if strings.Contains(l, want) {
				got = l
			}
		}
		if !strings.Contains(got, "trace_id="+span.SpanContext().TraceID().String()) ||
			!strings.Contains(got, "span_id="+span.SpanContext().SpanID().String()) {
			t.Errorf("%s: log line %q lacks the span's trace and span ids\nlog:\n%s", name, got, log.String())
		}
	}
}
