// Package service holds ledgerless's use cases: registering brokers,
// heartbeats, resignation, group reads and long polls, elections, the
// runtime configuration and the controller's own metadata. Every use case
// reads linearizably from etcd and writes with compare-and-swap through
// package store; nothing is answered from a cache of shared state.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/tracing"
)

// maxAttempts bounds re-reads after losing a compare-and-swap race.
const maxAttempts = 8

// Options configure a Service.
type Options struct {
	Store     *store.Store
	ReplicaID string
	Logger    *slog.Logger
	Now       func() time.Time
	// Reconcile is the period of the election safety net; default 1 s.
	Reconcile time.Duration
	// Embedded says that etcd runs inside this replica (reported only).
	Embedded bool
	// TracerProvider traces the use cases and elections; nil: tracing off.
	TracerProvider trace.TracerProvider
	// Observer is told of elections and reconciles; nil: nobody.
	Observer election.Observer
	// MaxLongPolls bounds the long polls waiting at once; 0: no bound.
	MaxLongPolls int
	// MaxBrokersPerGroup bounds a group's registered brokers; 0: no bound.
	MaxBrokersPerGroup int
	// Crashes is told of crash suspicions (see Hold); nil: nobody.
	Crashes CrashObserver
}

// Service implements the controller's use cases for one replica.
type Service struct {
	store    *store.Store
	replica  string
	log      *slog.Logger
	tracer   trace.Tracer // nil: tracing off
	now      func() time.Time
	hub      *Hub
	elector  *election.Elector
	embedded bool
	// Limits of Options; 0 is no bound.
	maxLongPolls, maxBrokers int

	mu      sync.Mutex
	members map[memberKey]*memberEntry
	conns   map[memberKey]int // open connections of each broker to this replica
	crash   *crashWatch
	heard   *heardBook // the latest heartbeat data received per broker

	listeners []func(ledgerless.GroupKey, ledgerless.HistoryEntry) // of elections; guarded by mu

	draining     chan struct{} // closed by Drain
	drainingOnce sync.Once
}

type memberKey struct {
	group ledgerless.GroupKey
	id    int64
}

// memberEntry caches one broker's member record between heartbeats. Its
// lock orders the heartbeats of one broker on this replica.
type memberEntry struct {
	key memberKey
	// Under Service.mu: the callers holding or waiting for lock, and
	// whether the cache was forgotten while they did.
	users int
	stale bool

	// lock is held by the one caller that uses the entry: a channel of
	// one, so that a caller waiting for it gives up at its deadline.
	lock chan struct{}
	m    *store.Member
	// renewer: this replica wrote m's heartbeat record, and so renews the
	// broker's lease for the heartbeats that every replica receives
	// (SharedHeartbeat).
	renewer bool
	rec     recorded // what this replica last wrote of m's heartbeat data
}

// New returns a Service; Run starts its background work.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: opts.Store, replica: opts.ReplicaID, log: opts.Logger, tracer: tracing.Tracer(opts.TracerProvider),
		now: opts.Now, embedded: opts.Embedded, maxLongPolls: opts.MaxLongPolls, maxBrokers: opts.MaxBrokersPerGroup,
		members: map[memberKey]*memberEntry{}, conns: map[memberKey]int{}, heard: newHeardBook(), draining: make(chan struct{}),
		crash: newCrashWatch(opts.Crashes)}
	s.elector = election.NewElector(election.Options{Store: opts.Store, Replica: opts.ReplicaID,
		Logger: opts.Logger, Now: opts.Now, Reconcile: opts.Reconcile,
		ConnectedFor:   func() time.Duration { return s.hub.ConnectedFor() },
		Heard:          s.heard.group,
		TracerProvider: opts.TracerProvider, Observer: opts.Observer, Elected: s.elected})
	s.hub = newHub(opts.Store, opts.Logger, opts.Now, s.leaseLost, s.Group)
	return s
}

// Run follows etcd and runs automatic elections until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.elector.Run(ctx) }()
	err := s.hub.Run(ctx)
	err = errors.Join(err, <-errc)
	s.crash.close()
	return err
}

// Drain makes every waiting and future long poll answer at once, so that
// a replica that is shutting down hands its brokers the current state
// instead of an error; they poll another replica next.
func (s *Service) Drain() { s.drainingOnce.Do(func() { close(s.draining) }) }

// Hub returns the replica's change hub.
func (s *Service) Hub() *Hub { return s.hub }

// ReplicaID is the id of the replica this service runs in.
func (s *Service) ReplicaID() string { return s.replica }

// Ready checks that etcd answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ready(ctx) }

// conflict is the error returned when compare-and-swap retries ran out:
// the state is changing faster than this replica can write; the client
// should retry.
func conflict(op string) error {
	return fmt.Errorf("%s: %w: state kept changing for %d attempts", op, ledgerless.ErrUnavailable, maxAttempts)
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
