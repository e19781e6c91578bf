package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// Defaults of Options.
const (
	DefaultParallel        = 16
	DefaultElectionTimeout = 5 * time.Second
)

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
	// Parallel bounds the automatic elections that run at once, each of
	// its own group (default DefaultParallel).
	Parallel int
	// ElectionTimeout is the deadline of each automatic election and of
	// each reconcile's scan (default DefaultElectionTimeout): an etcd call
	// that hangs holds one election for that long, not every election
	// of the replica.
	ElectionTimeout time.Duration
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
	pending map[ledgerless.GroupKey][]Cause // checks asked for, not started
	running map[ledgerless.GroupKey]bool    // automatic elections under way
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
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.ElectionTimeout <= 0 {
		opts.ElectionTimeout = DefaultElectionTimeout
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	return &Elector{opts: opts, tracer: tracing.Tracer(opts.TracerProvider),
		pending: map[ledgerless.GroupKey][]Cause{}, running: map[ledgerless.GroupKey]bool{}, wake: make(chan struct{}, 1),
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
// passed to LeaseLost, and on each reconcile tick for every group whose
// master is none or not alive and where an election could change
// something (see Electable). Up to Parallel elections run at once, one per
// group at most, each within ElectionTimeout; groups whose lease was lost
// go before those the reconcile found. Run returns nil when ctx ends and
// every election it started has returned.
func (e *Elector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { e.reconcileEvery(ctx) })
	slots := make(chan struct{}, e.opts.Parallel) // one per election under way
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		}
		for _, job := range e.take(cap(slots) - len(slots)) { // only Run fills slots: they are free
			slots <- struct{}{}
			wg.Go(func() {
				defer e.finished(job.group, slots)
				ectx, cancel := context.WithTimeout(ctx, e.opts.ElectionTimeout)
				defer cancel()
				if _, err := e.Elect(ectx, job.group, Automatic, 0, job.causes...); err != nil && ctx.Err() == nil {
					if suppressed, ok := e.failures.Allow("election " + job.group.String()); ok {
						e.opts.Logger.Warn("automatic election", "group", job.group.String(), "err", err, "suppressed", suppressed)
					}
				}
			})
		}
	}
}

// job is one automatic election check to run.
type job struct {
	group  ledgerless.GroupKey
	causes []Cause
}

// take removes up to n pending checks of groups with no election under
// way and marks those groups running: first the groups where a broker's
// lease went away, then those a reconcile found.
func (e *Elector) take(n int) []job {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []job
	for _, leaseLost := range []bool{true, false} {
		for g, causes := range e.pending {
			if len(out) == n {
				return out
			}
			if e.running[g] || slices.ContainsFunc(causes, func(c Cause) bool { return c.BrokerID != 0 }) != leaseLost {
				continue
			}
			delete(e.pending, g)
			e.running[g] = true
			out = append(out, job{group: g, causes: causes})
		}
	}
	return out
}

// finished ends the election of g that held a slot, and wakes Run for
// what waited: a free slot, or a check of g asked for meanwhile.
func (e *Elector) finished(g ledgerless.GroupKey, slots chan struct{}) {
	e.mu.Lock()
	delete(e.running, g)
	e.mu.Unlock()
	<-slots
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// reconcileEvery reconciles on every tick until ctx ends, each scan
// within ElectionTimeout, apart from the elections: a slow scan delays no
// election.
func (e *Elector) reconcileEvery(ctx context.Context) {
	tick := time.NewTicker(e.opts.Reconcile)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sctx, cancel := context.WithTimeout(ctx, e.opts.ElectionTimeout)
		e.reconcile(sctx)
		cancel()
	}
}

// reconcile scans every group, reports what it saw, and asks for an
// election check of each group without a live master where an election
// could change something: paused groups and master-less ones without an
// electable broker cost nothing more than their share of the scan. A
// reconcile that finds such groups is recorded as a span, to which the
// elections it prompts link; one that finds none records nothing.
func (e *Elector) reconcile(ctx context.Context) {
	start := time.Now()
	scan, err := e.opts.Store.Scan(ctx)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			if suppressed, ok := e.failures.Allow("reconcile"); ok {
				e.opts.Logger.Warn("reconcile", "err", err, "suppressed", suppressed)
			}
		}
		return
	}
	e.opts.Observer.Scanned(scan.Groups, scan.AliveBrokers, len(scan.WithoutLiveMaster))
	var electable []ledgerless.GroupKey
	for _, g := range scan.WithoutLiveMaster {
		if Electable(g.Key, g.State, g.Alive, scan.Config) {
			electable = append(electable, g.Key)
		}
	}
	if len(electable) == 0 {
		return
	}
	_, span := tracing.Start(ctx, e.tracer, "ledgerless.reconcile", trace.WithNewRoot(), trace.WithTimestamp(start))
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("ledgerless.groups", scan.Groups),
			attribute.Int("ledgerless.alive_brokers", scan.AliveBrokers),
			attribute.Int("ledgerless.groups_without_live_master", len(scan.WithoutLiveMaster)),
			attribute.Int("ledgerless.groups_electable", len(electable)))
	}
	span.End()
	c := Cause{At: e.opts.Now(), Span: span.SpanContext()}
	for _, g := range electable {
		e.notify(g, c)
	}
}
