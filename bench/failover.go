package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// Failover is the latency of one way of losing a master, from the moment
// the lease is gone (or the master's process is killed) to a long-polling
// slave seeing itself master.
type Failover struct {
	Mode  string // resign, revoke, expiry or kill -9
	Start string // what starts the clock
	// Anchor is the stock DLedger controller's figure for the same loss,
	// when there is one (see anchors).
	Anchor  string
	Latency Latency
	// Granularity is etcd's own, for expiry: from the lease's TTL running
	// out (the last renewal's answer plus the TTL) to the watch seeing the
	// broker's alive key deleted.
	Granularity Latency
}

// failoverTTL is the heartbeat timeout of the failover trials' brokers.
const failoverTTL = ledgerless.MinHeartbeatTimeout

// beatEvery is how often the trials' brokers heartbeat.
const beatEvery = 500 * time.Millisecond

const modeKill = "kill -9"

var failoverModes = []struct{ mode, start string }{
	{"resign", "the master's DELETE …/lease is sent"},
	{"revoke", "the master's lease is revoked in etcd behind the controller's back"},
	{"expiry", "an etcd watch sees the master's lease expire (TTL 2 s)"},
	{modeKill, "the master's brokersim process (REST, TTL 2 s) is sent SIGKILL"},
}

// Loaded is the effect of many groups that need no election on one that
// does: the same failover, without and with Groups master-less or paused
// groups present, in the same run.
type Loaded struct {
	Groups        int
	Mode          string
	Without, With Latency
}

// failovers runs FailoverTrials trials of each mode, one after another,
// each in a group of its own with a master and a slave in sync (kill -9
// only with a brokersim binary), then the revoke trials again with
// Masterless master-less or paused groups present. The trials watch
// etcd on their own connection, opened for them alone: the watch would
// otherwise see every registration of the later phases.
func (r *runner) failovers(ctx context.Context) ([]Failover, *Loaded, error) {
	st, err := store.Open(store.ClientConfig{Endpoints: []string{r.ctl.etcd}, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	obs, err := observe(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	// The controller elects for an expired master only once it has been
	// connected to etcd for the master's heartbeat timeout.
	time.Sleep(time.Until(r.started.Add(failoverTTL + time.Second)))
	poller := newAPI(r.ctl.url, 2)
	defer poller.close()
	var out []Failover
	for _, m := range failoverModes {
		if m.mode == modeKill && r.cfg.Brokersim == "" {
			continue
		}
		f, err := r.failoverMode(ctx, st, obs, poller, m.mode, m.mode)
		if err != nil {
			return nil, nil, err
		}
		f.Start = m.start
		if m.mode == modeKill {
			f.Anchor = anchorFor(anchorKill, failoverTTL)
		}
		out = append(out, f)
	}
	if r.cfg.Masterless == 0 {
		return out, nil, nil
	}
	l := &Loaded{Groups: r.cfg.Masterless, Mode: "revoke"}
	for _, f := range out {
		if f.Mode == l.Mode {
			l.Without = f.Latency
		}
	}
	undo, err := r.masterless(ctx, st, r.cfg.Masterless)
	defer undo()
	if err != nil {
		return nil, nil, fmt.Errorf("master-less groups: %w", err)
	}
	f, err := r.failoverMode(ctx, st, obs, poller, l.Mode, "loaded-"+l.Mode)
	if err != nil {
		return nil, nil, err
	}
	l.With = f.Latency
	r.step("failover: %s with %s master-less or paused groups ÷ without: p50 %s, p99 %s", l.Mode, count(float64(l.Groups)),
		ratioOf(float64(l.With.P50), float64(l.Without.P50)), ratioOf(float64(l.With.P99), float64(l.Without.P99)))
	return out, l, nil
}

// failoverMode runs FailoverTrials trials of mode in groups named from
// prefix.
func (r *runner) failoverMode(ctx context.Context, st *store.Store, obs *observer, poller *api, mode, prefix string) (Failover, error) {
	f := Failover{Mode: mode}
	var lat, gran []time.Duration
	for t := range r.cfg.FailoverTrials {
		g := ledgerless.GroupKey{Cluster: "failover", Group: fmt.Sprintf("%s-%03d", strings.ReplaceAll(prefix, " ", ""), t)}
		var d, gr time.Duration
		var err error
		if mode == modeKill {
			d, err = r.killTrial(ctx, poller, g)
		} else {
			d, gr, err = r.failoverTrial(ctx, st, obs, poller, mode, g)
		}
		if err != nil {
			return f, fmt.Errorf("failover %s trial %d: %w", prefix, t+1, err)
		}
		lat = append(lat, d)
		if mode == "expiry" {
			gran = append(gran, gr)
		}
	}
	f.Latency, f.Granularity = summarize(lat), summarize(gran)
	r.step("failover: %s, %d trials: p50 %s, p99 %s, max %s", prefix, f.Latency.N, ms(f.Latency.P50), ms(f.Latency.P99), ms(f.Latency.Max))
	return f, nil
}

// failoverTrial loses the master of new group g the mode's way and
// returns the time until a long-polling slave sees itself master and, for
// expiry, etcd's expiry granularity.
func (r *runner) failoverTrial(ctx context.Context, st *store.Store, obs *observer, poller *api, mode string, g ledgerless.GroupKey) (time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	defer func() { _ = r.api.removeGroup(context.WithoutCancel(ctx), g) }()
	p, err := r.pair(ctx, g, failoverTTL)
	defer p.stop()
	if err != nil {
		return 0, 0, err
	}
	master, slave, masterBeats := p.master, p.slave, p.beats[0]
	seen, err := r.pollUntilMaster(ctx, poller, g, slave)
	if err != nil {
		return 0, 0, err
	}
	lostAt := obs.next(g, lost(master))
	var start time.Time
	var granularity time.Duration
	switch mode {
	case "resign":
		masterBeats.stop() // a broker that resigns stops heartbeating
		start = time.Now()
		err = r.api.resign(ctx, g, master)
	case "revoke":
		// A master that heartbeat after the revocation would be made alive
		// again, and stay master if its heartbeat came before the
		// election: this master is gone.
		masterBeats.stop()
		var snap *store.Snapshot
		if snap, err = st.ReadGroup(ctx, g); err == nil {
			start = time.Now()
			err = st.RevokeLease(ctx, snap.Lease(master))
		}
	case "expiry":
		renewed := masterBeats.stop()
		select {
		case start = <-lostAt:
			granularity = start.Sub(renewed.Add(failoverTTL))
		case <-ctx.Done():
			return 0, 0, errors.New("the master's lease never expired")
		}
	}
	if err != nil {
		return 0, 0, err
	}
	select {
	case r := <-seen:
		if r.err != nil {
			return 0, 0, r.err
		}
		return r.at.Sub(start), granularity, nil
	case <-ctx.Done():
		return 0, 0, errors.New("the slave never saw itself master")
	}
}

type seenAt struct {
	at  time.Time
	err error
}

// pollUntilMaster long-polls g until broker id is its master, and reports
// when it saw that. It returns once the first long poll is waiting.
func (r *runner) pollUntilMaster(ctx context.Context, poller *api, g ledgerless.GroupKey, id int64) (<-chan seenAt, error) {
	v, err := poller.group(ctx, g, 0, 0)
	if err != nil {
		return nil, err
	}
	waiting, err := r.waiters(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(chan seenAt, 1)
	go func() { seen <- awaitMaster(ctx, poller, g, v.Index, id) }()
	return seen, r.waitWaiters(ctx, waiting+1)
}

// awaitMaster long-polls g from index on until broker id is its master,
// as a broker's role-change loop does, and returns when it saw that.
func awaitMaster(ctx context.Context, poller *api, g ledgerless.GroupKey, index, id int64) seenAt {
	for {
		got, err := poller.group(ctx, g, index, time.Minute)
		if err != nil || got.MasterBrokerID == id {
			return seenAt{at: time.Now(), err: err}
		}
		index = got.Index
	}
}

// pair is a master and a slave of one group, both in the SyncStateSet,
// heartbeating every beatEvery.
type pair struct {
	master, slave int64
	beats         []*beater // the master's, then the slave's
}

// pair registers a master and a slave in g with heartbeat timeout ttl,
// keeps them heartbeating and puts both in the SyncStateSet. Stop the pair
// even when it returns an error.
func (r *runner) pair(ctx context.Context, g ledgerless.GroupKey, ttl time.Duration) (*pair, error) {
	p := &pair{}
	for _, id := range []*int64{&p.master, &p.slave} {
		var err error
		if *id, err = r.api.register(ctx, g, fmt.Sprintf("b%d", len(p.beats)), ttl); err != nil {
			return p, err
		}
		p.beats = append(p.beats, r.keepBeating(ctx, g, *id))
	}
	return p, r.api.inSync(ctx, g, p.master, p.slave)
}

// stop stops the pair's heartbeats.
func (p *pair) stop() {
	for _, b := range p.beats {
		b.stop()
	}
}

// beater heartbeats one broker every beatEvery until stopped.
type beater struct {
	quit    chan struct{}
	done    chan struct{}
	renewed atomic.Int64 // unix nanoseconds of the last successful heartbeat's answer
}

func (r *runner) keepBeating(ctx context.Context, g ledgerless.GroupKey, id int64) *beater {
	b := &beater{quit: make(chan struct{}), done: make(chan struct{})}
	path := heartbeatPath(g, id)
	go func() {
		defer close(b.done)
		for off := int64(1); ; off++ {
			if r.api.heartbeat(ctx, path, off) == nil {
				b.renewed.Store(time.Now().UnixNano())
			}
			select {
			case <-b.quit:
				return
			case <-ctx.Done():
				return
			case <-time.After(beatEvery):
			}
		}
	}()
	return b
}

// stop stops the heartbeats once no heartbeat is in flight, and returns
// when the last one was answered. It is safe to call more than once.
func (b *beater) stop() time.Time {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	<-b.done
	return time.Unix(0, b.renewed.Load())
}

// waiters is the number of long polls waiting in the controller.
func (r *runner) waiters(ctx context.Context) (int, error) {
	m, err := r.ctl.metrics(ctx)
	return int(m.sum("ledgerless_longpoll_waiters")), err
}

// waitWaiters waits until at least n long polls wait in the controller.
func (r *runner) waitWaiters(ctx context.Context, n int) error {
	for {
		w, err := r.waiters(ctx)
		if err != nil || w >= n {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d long polls waiting: %w", w, n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
