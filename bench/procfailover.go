package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/store"
)

// ProcessFailover is the latency of losing a RocketMQ-protocol master,
// a real brokersim process, until the slave acts as master.
type ProcessFailover struct {
	Mode    string        // kill -9 or SIGSTOP
	Timeout time.Duration // the brokers' heartbeat timeout
	Latency Latency
	Anchor  string // the stock DLedger controller's figure
}

// rocketmqTimeouts are the heartbeat timeouts of the RocketMQ failovers:
// etcd's floor, and stock's default (controllerHeartBeatTimeoutMills).
var rocketmqTimeouts = []time.Duration{2 * time.Second, 10 * time.Second}

// rocketmqFailovers runs RocketMQTrials trials of each way of losing a
// RocketMQ-protocol master at each timeout: a master and a slave
// brokersim process, speaking RocketMQ's protocol to three replicas (a
// heartbeat every second to each, as stock), both in the SyncStateSet;
// the master is killed (kill -9: its connections close) or stopped
// (SIGSTOP: nothing closes, its lease runs out), and the clock runs from
// the signal until the slave's own status says it is master.
func (r *runner) rocketmqFailovers(ctx context.Context) ([]ProcessFailover, error) {
	ctls, err := r.replicas(ctx)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, c := range ctls {
		addrs = append(addrs, c.remotingAddr())
	}
	var out []ProcessFailover
	for _, mode := range []string{anchorKill, anchorStop} {
		for _, ttl := range rocketmqTimeouts {
			var lat []time.Duration
			for t := range r.cfg.RocketMQTrials {
				g := ledgerless.GroupKey{Cluster: "rocketmq-failover", Group: fmt.Sprintf("%s-%s-%03d", strings.TrimPrefix(strings.ReplaceAll(mode, " ", ""), "SIG"), ttl, t)}
				d, err := r.rocketmqTrial(ctx, g, addrs, mode, ttl)
				if err != nil {
					return nil, fmt.Errorf("%s, timeout %s, trial %d: %w", mode, ttl, t+1, err)
				}
				lat = append(lat, d)
			}
			f := ProcessFailover{Mode: mode, Timeout: ttl, Latency: summarize(lat), Anchor: anchorFor(mode, ttl)}
			r.step("rocketmq failover: %s, timeout %s, %d trials: p50 %s, p99 %s, max %s", mode, ttl, f.Latency.N,
				ms(f.Latency.P50), ms(f.Latency.P99), ms(f.Latency.Max))
			out = append(out, f)
		}
	}
	return out, nil
}

// rocketmqTrial loses the master of a new RocketMQ-protocol pair in g.
func (r *runner) rocketmqTrial(ctx context.Context, g ledgerless.GroupKey, addrs []string, mode string, ttl time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute+2*ttl)
	defer cancel()
	p, err := r.startPair(ctx, g, "--protocol", "rocketmq", "--controller", strings.Join(addrs, ","),
		"--heartbeat-timeout", ttl.String(), "--heartbeat-interval", "1s")
	defer func() {
		p.stop()
		_ = r.api.removeGroup(context.WithoutCancel(ctx), g)
	}()
	if err != nil {
		return 0, err
	}
	before, err := p.slave.status(ctx)
	if err != nil {
		return 0, err
	}
	sig := syscall.SIGKILL
	if mode == anchorStop {
		sig = syscall.SIGSTOP
	}
	at, err := p.master.signal(sig)
	if err != nil {
		return 0, err
	}
	seen, err := p.slave.awaitStatus(ctx, func(s brokersim.Status) bool {
		return s.Role == ledgerless.RoleMaster && s.MasterEpoch > before.MasterEpoch
	})
	if err != nil {
		return 0, fmt.Errorf("the slave never acted as master: %w", err)
	}
	return seen.Sub(at), nil
}

// killTrial kills (kill -9) the master of a new pair of REST brokersim
// processes in g, heartbeat timeout failoverTTL, and returns the time
// until a long-polling slave sees itself master.
func (r *runner) killTrial(ctx context.Context, poller *api, g ledgerless.GroupKey) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p, err := r.startPair(ctx, g, "--controller", r.ctl.url, "--heartbeat-timeout", failoverTTL.String(),
		"--heartbeat-interval", beatEvery.String())
	defer func() {
		p.stop()
		_ = r.api.removeGroup(context.WithoutCancel(ctx), g)
	}()
	if err != nil {
		return 0, err
	}
	seen, err := r.pollUntilMaster(ctx, poller, g, p.slaveID)
	if err != nil {
		return 0, err
	}
	at, err := p.master.signal(syscall.SIGKILL)
	if err != nil {
		return 0, err
	}
	select {
	case s := <-seen:
		if s.err != nil {
			return 0, s.err
		}
		return s.at.Sub(at), nil
	case <-ctx.Done():
		return 0, errors.New("the slave never saw itself master")
	}
}

// procPair is a master and a slave brokersim process of one group.
type procPair struct {
	master, slave     *brokerProc
	masterID, slaveID int64
}

// startPair starts a master, then a slave, of group g as brokersim
// processes with args, and returns once both are in the SyncStateSet,
// the master acts as master and the slave as its slave. Stop the pair
// even when it returns an error.
func (r *runner) startPair(ctx context.Context, g ledgerless.GroupKey, args ...string) (*procPair, error) {
	p := &procPair{}
	dir := filepath.Join(r.dir, "brokers", g.Cluster, g.Group)
	args = append([]string{"--cluster", g.Cluster, "--group", g.Group}, args...)
	var err error
	if p.master, err = startBroker(r.cfg.Brokersim, dir, "master", args...); err != nil {
		return p, err
	}
	if _, err := p.master.awaitStatus(ctx, func(s brokersim.Status) bool { return s.Role == ledgerless.RoleMaster }); err != nil {
		return p, fmt.Errorf("the first broker never became master: %w", err)
	}
	if p.slave, err = startBroker(r.cfg.Brokersim, dir, "slave", args...); err != nil {
		return p, err
	}
	var v groupView
	for {
		if v, err = r.api.group(ctx, g, 0, 0); err == nil && len(v.SyncStateSet) == 2 {
			break
		}
		select {
		case <-ctx.Done():
			return p, fmt.Errorf("the slave never joined the SyncStateSet (last seen %+v): %w", v, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.masterID = v.MasterBrokerID
	p.slaveID = v.SyncStateSet[0]
	if p.slaveID == p.masterID {
		p.slaveID = v.SyncStateSet[1]
	}
	_, err = p.slave.awaitStatus(ctx, func(s brokersim.Status) bool {
		return s.Role == ledgerless.RoleSlave && s.BrokerID == p.slaveID && s.MasterEpoch == v.MasterEpoch
	})
	return p, err
}

// stop kills both processes.
func (p *procPair) stop() {
	for _, b := range []*brokerProc{p.master, p.slave} {
		if b != nil {
			b.kill()
		}
	}
}

// masterless adds n groups that need no election: half master-less
// (their one broker's lease ran out, no candidate is left), half paused
// with a dead master. It returns once the controller has settled them;
// undo unpauses and removes them.
func (r *runner) masterless(ctx context.Context, st *store.Store, n int) (undo func(), err error) {
	r.step("failover: adding %s groups, half master-less, half paused with a dead master", count(float64(n)))
	var all, paused []string
	for i := range n {
		kind := "masterless"
		if i%2 == 1 {
			kind = "paused"
			paused = append(paused, fmt.Sprintf("idle/%s-%05d", kind, i))
		}
		all = append(all, fmt.Sprintf("%s-%05d", kind, i))
	}
	undo = func() {
		ctx := context.WithoutCancel(ctx)
		_, _ = r.api.call(ctx, http.MethodPatch, "/v1/config", []byte(`{"pausedGroups":[]}`), nil)
		_ = forEach(ctx, 0, len(all), 64, func(ctx context.Context, i int) error {
			_ = r.api.removeGroup(ctx, ledgerless.GroupKey{Cluster: "idle", Group: all[i]})
			return nil
		})
	}
	body := fmt.Appendf(nil, `{"pausedGroups":["%s"]}`, strings.Join(paused, `","`))
	if _, err := r.api.call(ctx, http.MethodPatch, "/v1/config", body, nil); err != nil {
		return undo, err
	}
	err = forEach(ctx, 0, n, 64, func(ctx context.Context, i int) error {
		_, err := r.api.register(ctx, ledgerless.GroupKey{Cluster: "idle", Group: all[i]}, "b", failoverTTL)
		return err
	})
	if err != nil {
		return undo, err
	}
	// Settled: every idle group without a live master, the master-less
	// ones fenced (no master at all).
	for {
		scan, err := st.Scan(ctx)
		if err != nil {
			return undo, err
		}
		settled := 0
		for _, g := range scan.WithoutLiveMaster {
			if g.Key.Cluster == "idle" && (g.State.MasterBrokerID == 0) == !slices.Contains(paused, g.Key.String()) {
				settled++
			}
		}
		if settled == n {
			break
		}
		select {
		case <-ctx.Done():
			return undo, fmt.Errorf("%d of %d idle groups settled: %w", settled, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second) // a reconcile or two with them present
	return undo, nil
}
