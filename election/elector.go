package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
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
	// Reconcile is the period of the safety-net scan of every group.
	Reconcile time.Duration
}

// Elector runs automatic elections for every group and commits admin ones.
type Elector struct {
	opts Options

	mu      sync.Mutex
	pending map[ledgerless.GroupKey]struct{}
	wake    chan struct{}
}

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
	return &Elector{opts: opts, pending: map[ledgerless.GroupKey]struct{}{}, wake: make(chan struct{}, 1)}
}

// Elect reads group g, decides, and commits the decision in one
// transaction, re-reading when another writer got there first. It returns
// the decision that was committed (Change false: nothing to do), or the
// refusal of an admin election as an error.
func (e *Elector) Elect(ctx context.Context, g ledgerless.GroupKey, t Trigger, designated int64) (Decision, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := e.opts.Store.ReadGroup(ctx, g)
		if err != nil {
			return Decision{}, err
		}
		if !snap.Exists() {
			return Decision{}, fmt.Errorf("elect %s: %w", g, ledgerless.ErrBrokerMetadataNotExist)
		}
		d := Decide(Input{Group: snap.Group, Config: snap.Config, Trigger: t, Designated: designated, ConnectedFor: e.opts.ConnectedFor()})
		if d.Err != nil {
			return d, d.Err
		}
		if !d.Change {
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
			return Decision{}, fmt.Errorf("elect %s: %w", g, err)
		}
		Log(e.opts.Logger, g, h)
		return d, nil
	}
	return Decision{}, fmt.Errorf("elect %s: %w: state kept changing for %d attempts", g, ledgerless.ErrUnavailable, maxAttempts)
}

// Notify asks for an automatic election check of g; Run performs it.
func (e *Elector) Notify(g ledgerless.GroupKey) {
	e.mu.Lock()
	e.pending[g] = struct{}{}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run performs automatic elections until ctx ends: at once for the groups
// passed to Notify, and for every group without a live master on each
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
			groups, err := e.opts.Store.GroupsWithoutLiveMaster(ctx)
			if err != nil {
				e.opts.Logger.Warn("reconcile", "err", err)
				continue
			}
			for _, g := range groups {
				e.Notify(g)
			}
		}
		e.mu.Lock()
		batch := e.pending
		e.pending = map[ledgerless.GroupKey]struct{}{}
		e.mu.Unlock()
		for g := range batch {
			if _, err := e.Elect(ctx, g, Automatic, 0); err != nil && ctx.Err() == nil {
				e.opts.Logger.Warn("automatic election", "group", g.String(), "err", err)
			}
		}
	}
}
