// Package tracing holds ledgerless's tracing conventions, shared by every
// package that records spans: the names of the project's span attributes,
// the propagators of the REST API, a span helper that costs nothing when
// tracing is off, and the slog handler that stamps log lines with the trace
// and span of their context. Package tracing/provider builds a process's
// tracer provider from its configuration; a nil provider means tracing is
// off.
package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
)

// ScopeName is the instrumentation scope of ledgerless's own spans.
const ScopeName = "github.com/ledgerless/ledgerless"

// SpanPrefix starts the name of each of ledgerless's own spans.
const SpanPrefix = "ledgerless."

// Attributes of ledgerless's spans.
const (
	Cluster     = attribute.Key("ledgerless.cluster")
	Group       = attribute.Key("ledgerless.group")
	BrokerID    = attribute.Key("ledgerless.broker_id")
	MasterEpoch = attribute.Key("ledgerless.master_epoch")
	Reason      = attribute.Key("ledgerless.reason")
	Outcome     = attribute.Key("ledgerless.outcome")
	Revision    = attribute.Key("ledgerless.etcd_revision") // the etcd revision of an observed change
	Beats       = attribute.Key("ledgerless.beats")         // heartbeats committed in one transaction
)

// GroupAttributes names group g on a span.
func GroupAttributes(g ledgerless.GroupKey) []attribute.KeyValue {
	return []attribute.KeyValue{Cluster.String(g.Cluster), Group.String(g.Group)}
}

// Propagator reads and writes the trace context of API requests: W3C
// trace context and W3C baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Tracer returns tp's tracer for ledgerless's own spans, or nil when tp is
// nil (tracing off).
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(ScopeName)
}

// noSpan is the span Start returns when tracing is off.
var noSpan = trace.SpanFromContext(context.Background())

// Start starts a span of tracer as trace.Tracer.Start does. With a nil
// tracer (tracing off) it returns ctx and a span that records nothing,
// without allocating, so that hot paths pay nothing for tracing they do
// not use. Callers set attributes only when span.IsRecording().
func Start(ctx context.Context, tracer trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, noSpan
	}
	return tracer.Start(ctx, name, opts...)
}

// End records outcome, attrs and err (as the span's error status) on
// span when it records, and ends it.
func End(span trace.Span, outcome string, err error, attrs ...attribute.KeyValue) {
	if span.IsRecording() {
		span.SetAttributes(Outcome.String(outcome))
		span.SetAttributes(attrs...)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

// LogHandler returns a slog.Handler that adds trace_id and span_id to
// every record logged with a context that carries a span (the *Context
// logging methods), and passes the record on to h.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ next slog.Handler }

func (l logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.next.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.next.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.next.WithGroup(name)} }
