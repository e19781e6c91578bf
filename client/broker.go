package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/tracing"
)

// Defaults of Options.
const (
	DefaultHeartbeatInterval = time.Second
	DefaultHeartbeatTimeout  = ledgerless.DefaultHeartbeatTimeout
	DefaultPollWait          = 30 * time.Second
)

// Options configure a Broker.
type Options struct {
	// Controllers are the controller replicas' base URLs; requests go to
	// the one that answered last and fail over to the others.
	Controllers []string
	// Cluster and Group name the broker's group.
	Cluster, Group string
	// Address is where the broker serves its slaves and clients,
	// host:port; it becomes the group's masterAddress when it is master.
	Address string
	// IdentityFile keeps the broker's brokerId and registerCode across
	// restarts. Empty: the broker registers as a new broker on every start.
	IdentityFile string
	// HeartbeatInterval is the time between heartbeats (default 1 s);
	// HeartbeatTimeout how long the controller keeps the broker alive
	// without one (default 10 s, at least 2 s).
	HeartbeatInterval, HeartbeatTimeout time.Duration
	// ElectionPriority ranks the broker in elections: lower is preferred
	// among brokers of equal epoch and maxOffset.
	ElectionPriority int64
	// Progress reports the broker's log position for each heartbeat; the
	// controller elects the most advanced candidate. Nil reports zeros.
	Progress func() Progress
	// PollWait is how long the controller holds a long poll on the group
	// without a change (default 30 s).
	PollWait time.Duration
	// HTTP, TLS, Token and TokenFile are the transport's (see
	// TransportOptions): for https controllers of a CA of their own, TLS
	// names it and the broker's client certificate; to a controller that
	// authenticates its callers, the broker shows a token of role broker
	// whose scope covers its group, given here or in a file.
	HTTP      *http.Client
	TLS       TLS
	Token     string
	TokenFile string
	// TracerProvider records a client span for each call to the
	// controller (broker.register, broker.heartbeat, broker.poll,
	// broker.alter, broker.resign, broker.read), whose trace context the
	// request carries. Default: otel.GetTracerProvider(), which records
	// nothing unless the program installed a provider.
	TracerProvider trace.TracerProvider
	// Logger receives the broker's log; default: none. The lines about
	// one request (registration, a failed heartbeat, resignation) carry
	// its trace_id and span_id when tracing is on.
	Logger *slog.Logger
}

// Progress is a broker's log position as it reports it in heartbeats.
type Progress struct {
	Epoch         int64 // the epoch of the broker's last log entry
	MaxOffset     int64 // the end of its log
	ConfirmOffset int64 // the end of what is known to be acknowledged
}

func (o *Options) setDefaults() error {
	if err := (ledgerless.GroupKey{Cluster: o.Cluster, Group: o.Group}).Validate(); err != nil {
		return err
	}
	if err := ledgerless.ValidateAddress(o.Address); err != nil {
		return err
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.PollWait == 0 {
		o.PollWait = DefaultPollWait
	}
	if err := ledgerless.ValidateHeartbeatTimeout(o.HeartbeatTimeout); err != nil {
		return err
	}
	if o.HeartbeatInterval < 0 || o.HeartbeatInterval >= o.HeartbeatTimeout {
		return fmt.Errorf("heartbeat interval %s must be positive and below the timeout %s", o.HeartbeatInterval, o.HeartbeatTimeout)
	}
	if o.PollWait < 0 {
		return fmt.Errorf("poll wait %s must be positive", o.PollWait)
	}
	if o.Progress == nil {
		o.Progress = func() Progress { return Progress{} }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	return nil
}

// Broker is a broker's membership of its group: registration, heartbeats,
// and the group's master state as the controller last told it. Run drives
// it; the other methods are safe to call concurrently with Run.
//
// While it runs, a Broker keeps a request open to a controller replica at
// all times: its long poll, which names the broker. That open connection
// is the broker's crash signal: when the process dies (kill -9, OOM,
// panic) the replica sees it close, finds nothing listening on Options
// Address any more, and fails the group over at once instead of after the
// heartbeat timeout. So Address must be where the broker listens, and
// reachable from the replicas; a broker that shuts down cleanly calls
// Resign.
type Broker struct {
	opts   Options
	t      *Transport
	log    *slog.Logger
	tracer trace.Tracer
	roles  chan View // holds the latest undelivered role change

	mu      sync.Mutex
	id      int64     // 0 until registered
	view    View      // the newest state seen
	lastAck time.Time // when the last acknowledged heartbeat was sent

	beat     sync.Mutex // held while a heartbeat is in flight
	resigned bool       // guarded by beat
}

// New returns a broker of opts; Run registers it.
func New(opts Options) (*Broker, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	t, err := NewTransport(TransportOptions{Controllers: opts.Controllers, HTTP: opts.HTTP, TLS: opts.TLS,
		Token: opts.Token, TokenFile: opts.TokenFile})
	if err != nil {
		return nil, err
	}
	return &Broker{opts: opts, t: t, roles: make(chan View, 1), tracer: opts.TracerProvider.Tracer(scopeName),
		log: slog.New(tracing.LogHandler(opts.Logger.Handler())).With("cluster", opts.Cluster, "group", opts.Group)}, nil
}

// Run registers the broker, waiting for a controller as long as it takes,
// then heartbeats and follows the group by long polls until ctx ends,
// when it returns nil. It returns an error when the broker cannot go on:
// its identity does not fit (ErrIdentityMismatch) or the controller
// refuses its registration. Run does not resign; call Resign first on a
// clean shutdown.
func (b *Broker) Run(ctx context.Context) error {
	err := b.register(ctx)
	if err == nil {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return b.heartbeats(gctx) })
		g.Go(func() error { return b.follow(gctx) })
		err = g.Wait()
	}
	b.t.CloseIdleConnections()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ID is the broker's id in its group, 0 until it registered.
func (b *Broker) ID() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.id
}

// View is the newest master state of the group the broker has seen.
func (b *Broker) View() View {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.view.clone()
}

// RoleChanges delivers the group's master state each time its masterEpoch
// goes up, in increasing masterEpoch order; a broker never sees an older
// epoch after a newer one. When the receiver falls behind, only the
// newest change waits for it. The first change follows registration.
func (b *Broker) RoleChanges() <-chan View { return b.roles }

// MasterLeaseRemaining is how long the controller will at least keep
// considering the broker alive: the heartbeat timeout from the moment the
// last acknowledged heartbeat was sent (the lease was renewed after that),
// on this process's monotonic clock. 0 before registration, after Resign,
// or once that time has passed.
//
// A master that stops accepting writes when this reaches 0 can never
// acknowledge a write while another broker could already have been
// elected: that trades availability for safety, since a master cut off
// from every controller replica (or running while all of them are down)
// then stops too, although the controller elects no one in that case.
// A master that acknowledges only writes every SyncStateSet member has,
// as RocketMQ's allAckInSyncStateSet does, loses no acknowledged write
// without this check, because the slaves of a newer epoch no longer
// replicate from it.
func (b *Broker) MasterLeaseRemaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lastAck.IsZero() {
		return 0
	}
	return max(0, b.opts.HeartbeatTimeout-time.Since(b.lastAck))
}

// Group reads the group from the controller and takes in its master
// state, as after a fenced answer; ctx bounds the read.
func (b *Broker) Group(ctx context.Context) (*Group, error) {
	ctx, span := b.span(ctx, "broker.read", b.ID())
	g, _, err := b.t.PollGroup(ctx, b.opts.Cluster, b.opts.Group, -1, 0)
	end(span, err)
	if err != nil {
		return nil, err
	}
	b.observe(stateOfGroup(g))
	return g, nil
}

// SyncState is a group's SyncStateSet and its epoch.
type SyncState struct {
	Set   []int64
	Epoch int64
}

// AlterSyncStateSet asks, as the master of masterEpoch, to make set the
// group's SyncStateSet, whose epoch the broker knows as syncStateSetEpoch.
// Refusals are *Problem errors matching the ledgerless sentinels:
// ErrFencedMasterEpoch or ErrInvalidMaster (the broker is no longer
// master), ErrFencedSyncStateSetEpoch (re-read with Group and retry),
// ErrInvalidReplicas, ErrBrokerNotAlive, ErrAlterSyncStateSetFailed. Any
// other error leaves the outcome unknown: re-read.
func (b *Broker) AlterSyncStateSet(ctx context.Context, masterEpoch, syncStateSetEpoch int64, set []int64) (SyncState, error) {
	id := b.ID()
	if id == 0 {
		return SyncState{}, errors.New("alter sync state set: the broker is not registered yet")
	}
	set = slices.Clone(set)
	slices.Sort(set)
	var resp alterResponse
	ctx, span := b.span(ctx, "broker.alter", id)
	span.SetAttributes(tracing.MasterEpoch.Int64(masterEpoch))
	_, err := b.t.Call(ctx, http.MethodPost, GroupPath(b.opts.Cluster, b.opts.Group, "sync-state-set"),
		alterRequest{MasterBrokerID: id, MasterEpoch: masterEpoch, SyncStateSet: set, SyncStateSetEpoch: syncStateSetEpoch}, &resp)
	end(span, err)
	if err != nil {
		return SyncState{}, fmt.Errorf("alter sync state set to %v: %w", set, err)
	}
	b.mu.Lock()
	if b.view.MasterEpoch == masterEpoch && resp.SyncStateSetEpoch > b.view.SyncStateSetEpoch {
		b.view.SyncStateSet, b.view.SyncStateSetEpoch = slices.Clone(resp.SyncStateSet), resp.SyncStateSetEpoch
	}
	b.mu.Unlock()
	return SyncState{Set: resp.SyncStateSet, Epoch: resp.SyncStateSetEpoch}, nil
}

// Resign ends the broker's heartbeats for good and gives up its lease, on
// a clean shutdown: a master is replaced at once instead of after the
// heartbeat timeout. A heartbeat in flight is waited for, so that none
// can make the broker alive again behind the resignation.
func (b *Broker) Resign(ctx context.Context) error {
	b.beat.Lock()
	b.resigned = true
	b.beat.Unlock()
	b.mu.Lock()
	id := b.id
	b.lastAck = time.Time{}
	b.mu.Unlock()
	if id == 0 {
		return nil
	}
	ctx, span := b.span(ctx, "broker.resign", id)
	_, err := b.t.Do(ctx, http.MethodDelete, b.brokerPath(id, "lease"), nil)
	end(span, err)
	if err != nil {
		return fmt.Errorf("resign broker %d: %w", id, err)
	}
	b.log.InfoContext(ctx, "resigned", "brokerId", id)
	return nil
}

func (b *Broker) brokerPath(id int64, rest ...string) string {
	return GroupPath(b.opts.Cluster, b.opts.Group, append([]string{"brokers", strconv.FormatInt(id, 10)}, rest...)...)
}
