package brokersim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim/stock"
	"github.com/ledgerless/ledgerless/client"
)

// maxTruncated bounds the truncated entries a broker remembers for checks.
const maxTruncated = 10000

// Broker is one simulated broker.
type Broker struct {
	cfg  Config
	sdk  controller
	rmq  *stock.Broker // the same as sdk with ProtocolRocketMQ, else nil
	log  *slog.Logger
	http *http.Client // replication
	wg   sync.WaitGroup

	stale chan struct{} // a slave told of a newer masterEpoch: re-read the group

	mu         sync.Mutex
	data       *Log
	role       ledgerless.Role // "" until the controller assigned one
	epoch      int64           // the masterEpoch the broker acts on
	master     int64
	masterAddr string
	set        []int64 // as master: the SyncStateSet the controller confirmed
	setEpoch   int64
	pending    []int64 // members being added: counted for acknowledgements already
	confirm    int64   // entries below are acknowledged
	followers  map[int64]*follower
	changed    chan struct{} // closed and replaced on every change
	truncated  []Entry
	refused    string // why the last truncation was refused
	stopping   bool
	unfollow   context.CancelFunc // stops the slave's replication
	shrunkAt   time.Time          // the master's last look for members to take out
}

// New returns a broker of cfg; Run runs it.
func New(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, log: cfg.Logger, http: cfg.HTTP, changed: make(chan struct{}), stale: make(chan struct{}, 1)}
	if b.http == nil {
		b.http = &http.Client{}
	}
	if cfg.Protocol == ProtocolRocketMQ {
		rmq, err := stock.New(stock.Options{ControllerAddr: cfg.Controllers, BrokerClusterName: cfg.Cluster,
			BrokerName: cfg.Group, BrokerAddr: cfg.Advertise, StorePathRootDir: cfg.DataDir,
			BrokerHeartbeatInterval: cfg.HeartbeatInterval, ControllerHeartBeatTimeoutMills: cfg.HeartbeatTimeout,
			SyncBrokerMetadataPeriod:     cfg.RocketMQ.SyncBrokerMetadataPeriod,
			SyncControllerMetadataPeriod: cfg.RocketMQ.SyncControllerMetadataPeriod,
			BrokerElectionPriority:       cfg.ElectionPriority, Progress: b.progress, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		b.sdk, b.rmq = rmq, rmq
		return b, nil
	}
	sdk, err := client.New(client.Options{Controllers: cfg.Controllers, Cluster: cfg.Cluster, Group: cfg.Group,
		Address: cfg.Advertise, IdentityFile: cfg.identityPath(), HeartbeatInterval: cfg.HeartbeatInterval,
		HeartbeatTimeout: cfg.HeartbeatTimeout, ElectionPriority: cfg.ElectionPriority, Progress: b.progress,
		HTTP: cfg.HTTP, TLS: cfg.TLS, TokenFile: cfg.TokenFile, TracerProvider: cfg.TracerProvider, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	b.sdk = restController{sdk}
	return b, nil
}

// Run serves the broker until ctx ends, then shuts down within the
// shutdown timeout: it stops taking writes, resigns its lease (a master
// is replaced at once), and drains HTTP. It returns the first failure.
func (b *Broker) Run(ctx context.Context) error {
	data, err := OpenLog(b.cfg.logPath(), b.cfg.Fsync)
	if err != nil {
		return err
	}
	defer data.Close()
	b.mu.Lock()
	b.data = data
	b.mu.Unlock()
	var ln net.Listener
	if ln, err = net.Listen("tcp", b.cfg.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: b.handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(b.log.Handler(), slog.LevelWarn)}
	b.log.Info("broker serving", "listen", ln.Addr().String(), "advertise", b.cfg.Advertise,
		"cluster", b.cfg.Cluster, "group", b.cfg.Group, "protocol", b.cfg.Protocol, "maxOffset", data.End())

	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	g, gctx := errgroup.WithContext(run)
	if b.rmq != nil { // the listen port takes the controller's NOTIFY too
		shared := newSharedListener(ln, func(conn net.Conn) { b.rmq.ServeConn(gctx, conn) })
		ln = shared
		g.Go(func() error { return shared.Run(gctx) })
	}
	g.Go(func() error { return b.sdk.Run(gctx) })
	g.Go(func() error { return b.followRoles(gctx) })
	g.Go(func() error { return b.maintain(gctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-gctx.Done(): // a part failed
			srv.Close()
			return nil
		case <-ctx.Done():
		}
		err := b.shutdown(ctx, srv)
		cancel()
		return err
	})
	err = g.Wait()
	b.wg.Wait()
	return err
}

// shutdown stops taking writes, resigns and drains HTTP.
func (b *Broker) shutdown(ctx context.Context, srv *http.Server) error {
	b.log.Info("shutting down", "timeout", b.cfg.ShutdownTimeout)
	deadline := time.Now().Add(b.cfg.ShutdownTimeout)
	b.mu.Lock()
	b.stopping = true
	b.notifyLocked()
	b.mu.Unlock()
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline.Add(-b.cfg.ShutdownTimeout/2))
	if err := b.sdk.Resign(rctx); err != nil {
		b.log.Warn("resign", "err", err) // the lease expires on its own
	}
	cancel()
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// progress is what the broker reports in heartbeats.
func (b *Broker) progress() client.Progress {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.data == nil {
		return client.Progress{}
	}
	return client.Progress{Epoch: b.data.LastEpoch(), MaxOffset: b.data.End(), ConfirmOffset: b.confirm}
}

// followRoles applies the controller's role changes until ctx ends.
func (b *Broker) followRoles(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case v := <-b.sdk.RoleChanges():
			b.apply(ctx, v)
		}
	}
}

// apply acts on a new masterEpoch: as master, the broker starts the
// epoch in its log and takes writes; as slave, it replicates from the new
// master, after truncating what the master does not have.
func (b *Broker) apply(ctx context.Context, v client.View) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v.MasterEpoch <= b.epoch || b.stopping {
		return
	}
	if b.unfollow != nil {
		b.unfollow()
		b.unfollow = nil
	}
	b.role, b.epoch, b.master, b.masterAddr = v.Role, v.MasterEpoch, v.MasterBrokerID, v.MasterAddress
	b.set, b.setEpoch, b.pending = slices.Clone(v.SyncStateSet), v.SyncStateSetEpoch, nil
	b.followers = map[int64]*follower{}
	b.log.Info("acting on a new masterEpoch", "role", v.Role, "masterEpoch", v.MasterEpoch, "master", v.MasterBrokerID,
		"syncStateSet", v.SyncStateSet, "maxOffset", b.data.End())
	b.notifyLocked() // waiting writes of an older epoch fail
	switch {
	case v.Role == ledgerless.RoleMaster:
		if err := b.data.StartEpoch(v.MasterEpoch); err != nil {
			b.log.Error("start epoch", "err", err)
		}
		now := time.Now()
		for _, id := range v.SyncStateSet {
			if id != v.MasterBrokerID { // a grace period to show up
				b.followers[id] = &follower{lastSeen: now, lastCaughtUp: now}
			}
		}
	case v.MasterBrokerID != 0:
		fctx, cancel := context.WithCancel(ctx)
		b.unfollow = cancel
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.follow(fctx, v.MasterEpoch, v.MasterAddress)
		}()
	}
}

// notifyLocked wakes everyone waiting for a change.
func (b *Broker) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Status is a broker's state, as GET /status answers it.
type Status struct {
	BrokerID          int64           `json:"brokerId"`
	Address           string          `json:"address"`
	Role              ledgerless.Role `json:"role"` // "" until the controller assigned one
	MasterEpoch       int64           `json:"masterEpoch"`
	MasterBrokerID    int64           `json:"masterBrokerId"`
	MasterAddress     string          `json:"masterAddress"`
	SyncStateSet      []int64         `json:"syncStateSet"`
	SyncStateSetEpoch int64           `json:"syncStateSetEpoch"`
	MaxOffset         int64           `json:"maxOffset"`
	ConfirmOffset     int64           `json:"confirmOffset"`
	Epochs            []EpochStart    `json:"epochs"`
	Truncated         int             `json:"truncated"`                   // entries removed since the start
	RefusedTruncation string          `json:"refusedTruncation,omitempty"` // why a truncation was refused
	LeaseRemainingMs  int64           `json:"leaseRemainingMs"`
	Stopping          bool            `json:"stopping"`
}

// Status returns the broker's state.
func (b *Broker) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Status{BrokerID: b.sdk.ID(), Address: b.cfg.Advertise, Role: b.role, MasterEpoch: b.epoch,
		MasterBrokerID: b.master, MasterAddress: b.masterAddr, SyncStateSet: slices.Clone(b.set), SyncStateSetEpoch: b.setEpoch,
		ConfirmOffset: b.confirm, Truncated: len(b.truncated), RefusedTruncation: b.refused,
		LeaseRemainingMs: b.sdk.MasterLeaseRemaining().Milliseconds(), Stopping: b.stopping}
	if v := b.sdk.View(); b.role == ledgerless.RoleSlave && v.MasterEpoch == b.epoch {
		s.SyncStateSet, s.SyncStateSetEpoch = v.SyncStateSet, v.SyncStateSetEpoch // as the controller last told
	}
	if b.data != nil {
		t := b.data.Table()
		s.MaxOffset, s.Epochs = t.End, t.Epochs
	}
	return s
}
