package client

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/tracing"
)

// scopeName is the instrumentation scope of the broker's spans.
const scopeName = "github.com/ledgerless/ledgerless/client"

// span starts the client span of one call to the controller, named name
// ("broker.heartbeat"), for broker id (0: not registered yet). The
// transport sends its trace context along with the call.
func (b *Broker) span(ctx context.Context, name string, id int64) (context.Context, trace.Span) {
	ctx, span := b.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(tracing.Cluster.String(b.opts.Cluster), tracing.Group.String(b.opts.Group))
		if id != 0 {
			span.SetAttributes(tracing.BrokerID.Int64(id))
		}
	}
	return ctx, span
}

// end ends span with the call's outcome: ok, the code of the
// controller's problem, error, or canceled when the broker stopped it.
func end(span trace.Span, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, context.Canceled):
		outcome, err = "canceled", nil // the broker's doing, not the call's failure
	case err != nil:
		outcome = "error"
		var p *Problem
		if errors.As(err, &p) && p.Code != "" {
			outcome = p.Code
		}
		span.RecordError(err)
	}
	tracing.End(span, outcome, err)
}
