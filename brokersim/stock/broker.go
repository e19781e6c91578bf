package stock

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
)

// startState is where ReplicasManager.startBasicService got to; a failed
// start resumes from it.
type startState int

const (
	stateInitial startState = iota
	stateMetadataDone
	stateRegistered
	stateRunning
)

func (s startState) String() string {
	return [...]string{"INITIAL", "FIRST_TIME_SYNC_CONTROLLER_METADATA_DONE", "REGISTER_TO_CONTROLLER_DONE", "RUNNING"}[s]
}

// Broker is a stock broker's membership of its group. Run drives it; the
// other methods are safe to call concurrently with Run.
type Broker struct {
	opts  Options
	log   *slog.Logger
	ids   identityStore
	conns *conns
	roles chan client.View // holds the latest undelivered role change
	wg    sync.WaitGroup   // the periodic tasks Run started

	mu       sync.Mutex
	id       int64 // 0 until registered
	view     client.View
	state    startState
	leader   string   // controllerLeaderAddress
	avail    []string // availableControllerAddresses
	resigned bool
}

// New returns a broker of opts; Run starts it.
func New(opts Options) (*Broker, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	log := opts.Logger.With("cluster", opts.BrokerClusterName, "group", opts.BrokerName)
	return &Broker{opts: opts, log: log, ids: identityStore{dir: opts.StorePathRootDir}, conns: newConns(),
		roles: make(chan client.View, 1)}, nil
}

// Run starts the broker as ReplicasManager.start does, retrying every 5 s
// from the state reached until it is RUNNING, and runs its periodic work
// until ctx ends or Resign; it then closes its connections and returns
// nil. It returns an error only for a broker that cannot go on: its
// identity file names another group.
func (b *Broker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		b.wg.Wait()
		b.conns.closeAll()
	}()
	b.scan(ctx)
	b.every(ctx, scanEvery, scanEvery, b.scan)
	b.every(ctx, firstBeatAfter, b.opts.BrokerHeartbeatInterval, func(ctx context.Context) {
		if b.running() {
			b.heartbeatRound(ctx)
		}
	})
	for {
		err := b.startBasicService(ctx)
		if err == nil {
			break
		}
		if fatal, ok := err.(fatalError); ok {
			return fatal.error
		}
		b.log.Info("start-up not done; retrying", "state", b.currentState().String(), "in", startRetryEvery, "err", err)
		if !sleep(ctx, startRetryEvery) {
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

// fatalError ends Run.
type fatalError struct{ error }

// startBasicService is ReplicasManager.startBasicService: metadata, then
// registration, then one heartbeat round and an election when no master
// is known. nil means RUNNING.
func (b *Broker) startBasicService(ctx context.Context) error {
	if b.currentState() == stateInitial {
		var err error
		for i := range metadataTries {
			if err = b.updateControllerMetadata(ctx); err == nil {
				break
			}
			if i+1 < metadataTries && !sleep(ctx, time.Second) {
				return ctx.Err()
			}
		}
		if err != nil {
			return err
		}
		b.setState(stateMetadataDone)
		b.every(ctx, firstSyncAfter, b.opts.SyncControllerMetadataPeriod, func(ctx context.Context) {
			if err := b.updateControllerMetadata(ctx); err != nil {
				b.log.Debug("controller metadata", "err", err)
			}
		})
	}
	if b.currentState() == stateMetadataDone {
		var err error
		for range registerTries {
			if err = b.register(ctx); err == nil {
				break
			}
			if _, fatal := err.(fatalError); fatal {
				return err
			}
			if !sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))) {
				return ctx.Err()
			}
		}
		if err != nil {
			return err
		}
		b.setState(stateRegistered)
	}
	b.heartbeatRound(ctx)
	if !b.masterKnown() {
		if err := b.brokerElect(ctx); err != nil {
			return err
		}
	}
	b.setState(stateRunning)
	b.log.Info("running", "brokerId", b.ID(), "leader", b.leaderAddr())
	b.every(ctx, firstPollAfter, b.opts.SyncBrokerMetadataPeriod, func(ctx context.Context) {
		if _, err := b.Refresh(ctx); err != nil {
			b.log.Debug("replica info", "err", err)
		}
	})
	return nil
}

// every runs fn after first, then every period, until ctx ends.
func (b *Broker) every(ctx context.Context, first, period time.Duration, fn func(context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if !sleep(ctx, first) {
			return
		}
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			fn(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (b *Broker) currentState() startState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *Broker) setState(s startState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state = s
}

func (b *Broker) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == stateRunning && !b.resigned
}

func (b *Broker) masterKnown() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.view.MasterBrokerID != 0
}

func (b *Broker) leaderAddr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leader
}

// ID is the broker's id in its group, 0 until it registered.
func (b *Broker) ID() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.id
}

// View is the newest master state the broker acts on or knows of.
func (b *Broker) View() client.View {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.view
	v.SyncStateSet = slices.Clone(v.SyncStateSet)
	return v
}

// RoleChanges delivers the master state each time the broker changes to
// master or slave at a higher masterEpoch (changeToMaster,
// changeToSlave), in increasing masterEpoch order; only the newest
// undelivered change waits for a slow receiver. A masterEpoch without a
// master is not a role change: the broker asks for an election instead,
// as stock does.
func (b *Broker) RoleChanges() <-chan client.View { return b.roles }

// MasterLeaseRemaining is 0: a stock broker's heartbeats are oneway, so
// it never knows how long the controller keeps it alive, and it does not
// fence itself.
func (b *Broker) MasterLeaseRemaining() time.Duration { return 0 }

// Resign stops the heartbeats and closes the connections to the
// controllers, as a stock broker's shutdown does; the controller learns
// of it when the connections close or the lease runs out.
func (b *Broker) Resign(context.Context) error {
	b.mu.Lock()
	b.resigned = true
	b.mu.Unlock()
	b.conns.closeAll()
	return nil
}

// changeRole takes in a master state a controller answered or pushed:
// with a master and a higher masterEpoch it is a role change
// (changeToMaster or changeToSlave); at the same masterEpoch, a master
// takes in a newer SyncStateSet. It reports whether the roles changed.
func (b *Broker) changeRole(master int64, addr string, epoch int64, set []int64, setEpoch int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id == 0 || master == 0 {
		return false
	}
	if epoch == b.view.MasterEpoch && master == b.view.MasterBrokerID && setEpoch > b.view.SyncStateSetEpoch {
		b.view.SyncStateSet, b.view.SyncStateSetEpoch = slices.Clone(set), setEpoch
		return false
	}
	if epoch <= b.view.MasterEpoch {
		return false
	}
	v := client.View{Role: ledgerless.RoleSlave, MasterBrokerID: master, MasterAddress: addr, MasterEpoch: epoch,
		SyncStateSet: slices.Clone(set), SyncStateSetEpoch: setEpoch}
	if master == b.id {
		v.Role = ledgerless.RoleMaster
	}
	b.view = v
	b.log.Info("role change", "brokerId", b.id, "role", v.Role, "masterEpoch", epoch, "master", master, "syncStateSet", set)
	select {
	case <-b.roles:
	default:
	}
	v.SyncStateSet = slices.Clone(set)
	b.roles <- v
	return true
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
