package store

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/ledgerless/ledgerless/tracing"
)

// RequestObserver is told how long each etcd request took, by method
// (Range, Txn, LeaseGrant, LeaseKeepAlive, ...). Watches are not requests.
type RequestObserver interface {
	EtcdRequest(method string, d time.Duration)
}

// dialOptions instruments the etcd client's connection: safe transactions
// are repeated through transient failures (retry.go), every unary
// request's outcome (each attempt's) is reported to link and, with obs,
// timed; with a tracer provider, a request made within a sampled trace
// becomes a client span of that trace. Requests of untraced background
// work (watches, keep-alive streams, scans) make no spans, so an idle
// replica exports nothing.
func dialOptions(tp trace.TracerProvider, obs RequestObserver, l *link) []grpc.DialOption {
	// Outermost, so that each attempt of a repeated request is timed.
	opts := []grpc.DialOption{grpc.WithChainUnaryInterceptor(retryInterceptor)}
	opts = append(opts, grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, callOpts...)
		if obs != nil {
			obs.EtcdRequest(method[strings.LastIndexByte(method, '/')+1:], time.Since(start))
		}
		l.observe(method, err)
		return err
	}))
	if tp != nil {
		opts = append(opts, grpc.WithStatsHandler(sampledOnly{otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tp),
			otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
			otelgrpc.WithPropagators(propagation.TraceContext{}))}))
	}
	return opts
}

// sampledOnly passes to its handler only the RPCs made within a sampled
// trace.
type sampledOnly struct{ stats.Handler }

type sampledKey struct{}

func (s sampledOnly) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ctx
	}
	return s.Handler.TagRPC(context.WithValue(ctx, sampledKey{}, true), info)
}

func (s sampledOnly) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	if ctx.Value(sampledKey{}) != nil {
		s.Handler.HandleRPC(ctx, rs)
	}
}

// batchContext is the context of the transaction that commits batch: a
// span of the first traced beat's heartbeat, linked to the other traced
// beats, so that a heartbeat's trace reaches into etcd even though its
// write shares a transaction with others.
func (s *Store) batchContext(batch []*beat) (context.Context, trace.Span) {
	ctx := context.Background()
	if s.tracer == nil {
		return tracing.Start(ctx, nil, "")
	}
	var parent trace.SpanContext
	var links []trace.Link
	for _, b := range batch {
		switch {
		case !b.span.IsSampled():
		case !parent.IsValid():
			parent = b.span
		default:
			links = append(links, trace.Link{SpanContext: b.span})
		}
	}
	if !parent.IsValid() {
		return tracing.Start(ctx, nil, "")
	}
	return s.tracer.Start(trace.ContextWithSpanContext(ctx, parent), "ledgerless.heartbeat-batch",
		trace.WithLinks(links...), trace.WithAttributes(tracing.Beats.Int(len(batch))))
}
