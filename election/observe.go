package election

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/tracing"
)

// Outcomes of an election, as observed and traced.
const (
	OutcomeElected     = "elected"      // a new master was committed
	OutcomeNoCandidate = "no-candidate" // the master was deposed and none could replace it
	OutcomeRefused     = "refused"      // an admin election was refused
	OutcomeFailed      = "failed"       // a decided change could not be committed

	outcomeNone = "none" // traced only: another replica made the change first
)

// Observer is told what this replica's elections and reconciles do.
type Observer interface {
	// Election counts an election decided by this replica.
	Election(reason, outcome string)
	// Failover is the time from a master's lease going away, as this
	// replica saw it, to its successor's election being committed.
	Failover(reason string, d time.Duration)
	// Scanned reports the reconcile's view of every group.
	Scanned(groups, aliveBrokers, withoutLiveMaster int)
}

type noObserver struct{}

func (noObserver) Election(string, string)        {}
func (noObserver) Failover(string, time.Duration) {}
func (noObserver) Scanned(int, int, int)          {}

// Cause is what prompted an automatic election: a broker's lease going
// away, as this replica's watch saw it, or a reconcile that found the
// group without a live master. An election's span links to the spans of
// its causes, and a failover is timed from the old master's lease loss.
type Cause struct {
	BrokerID int64             // the broker whose lease went away; 0 for a reconcile
	Revision int64             // the etcd revision of the change, when known
	At       time.Time         // when this replica learnt of it
	Span     trace.SpanContext // the span that recorded it, when traced
}

// Committed reports an election that this replica committed in group g:
// the one log line an operator reads, the metrics, and an event on ctx's
// span. causes, when known, time the failover from the old master's loss.
func (e *Elector) Committed(ctx context.Context, g ledgerless.GroupKey, h ledgerless.HistoryEntry, causes ...Cause) {
	e.opts.Logger.InfoContext(ctx, "election", "group", g.String(), "reason", h.Reason,
		"oldMaster", h.OldMasterBrokerID, "newMaster", h.NewMasterBrokerID,
		"masterEpoch", h.MasterEpoch, "replica", h.Replica)
	outcome := outcomeOf(h)
	e.opts.Observer.Election(h.Reason, outcome)
	if e.opts.Elected != nil {
		e.opts.Elected(g, h)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("election", trace.WithAttributes(tracing.Reason.String(h.Reason), tracing.Outcome.String(outcome),
			tracing.MasterEpoch.Int64(h.MasterEpoch), tracing.BrokerID.Int64(h.NewMasterBrokerID)))
	}
	if h.NewMasterBrokerID == 0 || h.OldMasterBrokerID == 0 {
		return
	}
	for _, c := range causes {
		if c.BrokerID == h.OldMasterBrokerID && !c.At.IsZero() {
			e.opts.Observer.Failover(h.Reason, e.opts.Now().Sub(c.At))
			return
		}
	}
}

func outcomeOf(h ledgerless.HistoryEntry) string {
	if h.NewMasterBrokerID == 0 {
		return OutcomeNoCandidate
	}
	return OutcomeElected
}

// startSpan starts the span of an election of g at start, as a child of
// ctx's span (an admin election or a resignation), or as the root of a
// trace of its own for an automatic one, linked to the spans of its causes.
func (e *Elector) startSpan(ctx context.Context, g ledgerless.GroupKey, t Trigger, start time.Time, causes []Cause) (context.Context, trace.Span) {
	if e.tracer == nil {
		return tracing.Start(ctx, nil, "")
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(start), trace.WithAttributes(tracing.GroupAttributes(g)...)}
	if t == Automatic {
		opts = append(opts, trace.WithNewRoot())
	}
	for _, c := range causes {
		if c.Span.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: c.Span}))
		}
	}
	return e.tracer.Start(ctx, "ledgerless.elect", opts...)
}

// endSpan records an election's decision and outcome on its span and ends it.
func endSpan(span trace.Span, d Decision, outcome string, err error) {
	attrs := []attribute.KeyValue{tracing.Reason.String(d.Reason)}
	if d.Change {
		attrs = append(attrs, tracing.MasterEpoch.Int64(d.Next.MasterEpoch))
		if d.Next.MasterBrokerID != 0 {
			attrs = append(attrs, tracing.BrokerID.Int64(d.Next.MasterBrokerID))
		}
	}
	tracing.End(span, outcome, err, attrs...)
}
