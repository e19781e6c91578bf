package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ledgerless/ledgerless/tracing"
)

func TestStartWithTracingOffCostsNothing(t *testing.T) {
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		c, span := tracing.Start(ctx, nil, "ledgerless.heartbeat")
		if c != ctx || span.IsRecording() || span.SpanContext().IsValid() {
			t.Fatal("tracing off, yet a span")
		}
		span.End()
	})
	if allocs != 0 {
		t.Errorf("Start with tracing off allocates %v times", allocs)
	}
}

func TestLogHandlerAddsTheSpan(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	ctx, span := tracing.Start(context.Background(), tracing.Tracer(tp), "op")
	defer span.End()
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With("replica", "r1")

	log.InfoContext(ctx, "in a span")
	log.InfoContext(context.Background(), "outside")
	log.Info("no context")
	var lines []map[string]any
	for _, b := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	sc := span.SpanContext()
	if lines[0]["trace_id"] != sc.TraceID().String() || lines[0]["span_id"] != sc.SpanID().String() || lines[0]["replica"] != "r1" {
		t.Errorf("line in a span: %v; want trace %s span %s", lines[0], sc.TraceID(), sc.SpanID())
	}
	for _, l := range lines[1:] {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("line without a span has a trace id: %v", l)
		}
	}
}
