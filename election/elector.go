package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/internal/ratelog"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/tracing"
)

// maxAttempts bounds how often Elect re-reads after losing a race.
const maxAttempts = 8

// Options configure an Elector.
type Options struct {
	Store   *store.Store
	Replica string // recorded in the history of the elections this replica commits
	Logger  *slog.Logger
	Now     func() time.Time
	// ConnectedFor says how long this replica has been connected to etcd
	// without interruption (see Input.ConnectedFor).
	ConnectedFor func() time.Duration
	// Heard, when set, returns the heartbeat data this replica received
	// from group g's brokers, by broker id (see Input.Heard).
	Heard func(g ledgerless.GroupKey) map[int64]Heard
	// Reconcile is the period of the safety-net scan of every group.
	Reconcile time.Duration
	// TracerProvider traces elections and reconciles; nil: tracing off.
	TracerProvider trace.TracerProvider
	// Observer is told of elections and reconciles; nil: nobody.
	Observer Observer
	// Elected, when set, is called after every election this replica
	// commits, with the history entry; it must not block.
	Elected func(ledgerless.GroupKey, ledgerless.HistoryEntry)
}

// Elector runs automatic elections for every group and commits admin ones.
type Elector struct {
	opts   Options
	tracer trace.Tracer

	mu      sync.Mutex
	pending map[ledgerless.GroupKey][]Cause
	wake    chan struct{}
	// failures limits the warnings of failed reconciles and automatic
	// elections, which an etcd outage makes every second, to one per
	// kind (the reconcile, or a group's election) and failureLogInterval.
	failures *ratelog.Limiter
}

// failureLogInterval is how often a failure of one kind is logged.
const failureLogInterval = 10 * time.Second

// NewElector returns an Elector; Run starts its automatic elections.
func NewElector(opts Options) *Elector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Reconcile <= 0 {
		opts.Reconcile = time.Second
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	return &Elector{opts: opts, tracer: tracing.Tracer(opts.TracerProvider),
		pending: map[ledgerless.GroupKey][]Cause{}, wake: make(chan struct{}, 1),
		failures: ratelog.New(failureLogInterval, opts.Now)}
}

// Elect reads group g, decides, and commits the decision in one
// transaction, re-reading when another writer got there first. It returns
// the decision that was committed (Change false: nothing to do), or the
// refusal of an admin election as an error. causes, when known, say what
// prompted the election, for its trace and the failover time.
//
// An election that decides a change or a refusal is traced from its first
// read; one that finds nothing to do records no span, so that the checks
// of master-less groups every reconcile do not flood the traces.
func (e *Elector) Elect(ctx context.Context, g ledgerless.GroupKey, t Trigger, designated int64, causes ...Cause) (Decision, error) {
	start := time.Now()
	var span trace.Span
	var d Decision
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := e.opts.Store.ReadGroup(ctx, g)
		if err != nil {
			return Decision{}, e.failed(span, d, err)
		}
		if !snap.Exists() {
			return Decision{}, fmt.Errorf("elect %s: %w", g, ledgerless.ErrBrokerMetadataNotExist)
		}
		in := Input{Group: snap.Group, Config: snap.Config, Trigger: t, Designated: designated, ConnectedFor: e.opts.ConnectedFor()}
		if e.opts.Heard != nil {
			in.Heard = e.opts.Heard(g)
		}
		d = Decide(in)
		if span == nil && (d.Change || d.Err != nil) {
			ctx, span = e.startSpan(ctx, g, t, start, causes)
		}
		if d.Err != nil {
			refused := Decision{Reason: ledgerless.ReasonAdmin} // only admin elections are refused
			e.opts.Observer.Election(refused.Reason, OutcomeRefused)
			endSpan(span, refused, OutcomeRefused, d.Err)
			return d, d.Err
		}
		if !d.Change {
			if span != nil {
				endSpan(span, d, outcomeNone, nil) // another replica elected first
			}
			return d, nil
		}
		now := e.opts.Now()
		txn := e.opts.Store.Txn(snap)
		h := Apply(txn, snap.Group, d, d.Next, e.opts.Replica, now, 0)
		err = txn.Commit(ctx)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return Decision{}, e.failed(span, d, fmt.Errorf("elect %s: %w", g, err))
		}
		e.Committed(ctx, g, h, causes...)
		endSpan(span, d, outcomeOf(h), nil)
		return d, nil
	}
	return Decision{}, e.failed(span, d, fmt.Errorf("elect %s: %w: state kept changing for %d attempts", g, ledgerless.ErrUnavailable, maxAttempts))
}

// failed ends an election that decided a change but could not commit it
// (span is set then), and returns err.
func (e *Elector) failed(span trace.Span, d Decision, err error) error {
	if span != nil {
		e.opts.Observer.Election(d.Reason, OutcomeFailed)
		endSpan(span, d, OutcomeFailed, err)
	}
	return err
}

// LeaseLost asks for an automatic election check of g after a broker's
// lease went away; Run performs it.
func (e *Elector) LeaseLost(g ledgerless.GroupKey, c Cause) { e.notify(g, c) }

func (e *Elector) notify(g ledgerless.GroupKey, c Cause) {
	e.mu.Lock()
	e.pending[g] = append(e.pending[g], c)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run performs automatic elections until ctx ends: at once for the groups
// passed to LeaseLost, and for every group without a live master on each
// reconcile tick. It returns nil when ctx ends.
func (e *Elector) Run(ctx context.Context) error {
	tick := time.NewTicker(e.opts.Reconcile)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-tick.C:
			e.reconcile(ctx)
		}
		e.mu.Lock()
		batch := e.pending
		e.pending = map[ledgerless.GroupKey][]Cause{}
		e.mu.Unlock()
		for g, causes := range batch {
			if _, err := e.Elect(ctx, g, Automatic, 0, causes...); err != nil && ctx.Err() == nil {
				if suppressed, ok := e.failures.Allow("election " + g.String()); ok {
					e.opts.Logger.Warn("automatic election", "group", g.String(), "err", err, "suppressed", suppressed)
				}
			}
		}
	}
}

// reconcile scans every group, reports what it saw, and asks for an
// election check of each group without a live master. A reconcile that
// finds such groups is recorded as a span, to which the elections it
// prompts link; one that finds none records nothing.
func (e *Elector) reconcile(ctx context.Context) {
	start := time.Now()
	scan, err := e.opts.Store.Scan(ctx)
	if err != nil {
		if suppressed, ok := e.failures.Allow("reconcile"); ok {
			e.opts.Logger.Warn("reconcile", "err", err, "suppressed", suppressed)
		}
		return
	}
	e.opts.Observer.Scanned(scan.Groups, scan.AliveBrokers, len(scan.WithoutLiveMaster))
	if len(scan.WithoutLiveMaster) == 0 {
		return
	}
	_, span := tracing.Start(ctx, e.tracer, "ledgerless.reconcile", trace.WithNewRoot(), trace.WithTimestamp(start))
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("ledgerless.groups", scan.Groups),
			attribute.Int("ledgerless.alive_brokers", scan.AliveBrokers),
			attribute.Int("ledgerless.groups_without_live_master", len(scan.WithoutLiveMaster)))
	}
	span.End()
	c := Cause{At: e.opts.Now(), Span: span.SpanContext()}
	for _, g := range scan.WithoutLiveMaster {
		e.notify(g, c)
	}
}
