package service

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/tracing"
)

// span starts the span of a use case on group g (and broker id, unless
// 0). With tracing off it costs nothing.
func (s *Service) span(ctx context.Context, name string, g ledgerless.GroupKey, id int64) (context.Context, trace.Span) {
	ctx, span := tracing.Start(ctx, s.tracer, name)
	if span.IsRecording() {
		span.SetAttributes(tracing.GroupAttributes(g)...)
		if id != 0 {
			span.SetAttributes(tracing.BrokerID.Int64(id))
		}
	}
	return ctx, span
}

// endSpan records the outcome of a use case and the group's masterEpoch
// as it answered, and ends span.
func endSpan(span trace.Span, st ledgerless.State, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	var epoch []attribute.KeyValue
	if st.MasterEpoch != 0 {
		epoch = append(epoch, tracing.MasterEpoch.Int64(st.MasterEpoch))
	}
	tracing.End(span, outcome, err, epoch...)
}

// leaseLost is called for every broker lease that the watch saw go away:
// it records the loss as a span of its own and asks the elector to check
// the group; an election that follows links to that span. It also drops
// this replica's cached copy of the broker: its liveness may have been
// ended by another replica whose revocation of the lease failed, and
// renewing that lease would keep a heartbeating broker dead; the next
// heartbeat reads the broker again and makes it alive.
func (s *Service) leaseLost(c store.Change) {
	s.forget(c.Group, c.BrokerID)
	_, span := tracing.Start(context.Background(), s.tracer, "ledgerless.lease-lost")
	if span.IsRecording() {
		span.SetAttributes(tracing.GroupAttributes(c.Group)...)
		span.SetAttributes(tracing.BrokerID.Int64(c.BrokerID), tracing.Revision.Int64(c.Revision))
	}
	span.End()
	s.elector.LeaseLost(c.Group, election.Cause{BrokerID: c.BrokerID, Revision: c.Revision, At: s.now(), Span: span.SpanContext()})
}
