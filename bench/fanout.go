package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ledgerless/ledgerless"
)

// The systems of the fan-out comparison.
const (
	sysLongPoll = "ledgerless long poll"
	sysRawWatch = "etcd Watch"
)

// Fanout is the delivery of one change to many waiting brokers: a master
// change to ledgerless long polls of the changed group, or a Put to raw
// etcd watches of one key.
type Fanout struct {
	System    string
	Pollers   int
	Delivered int
	// Latency runs from the change being sent to each waiter's answer
	// arriving.
	Latency Latency
	// CPU seconds per answer, from the change to the last answer, of the
	// controller's process (with its etcd) and of the bench's.
	ServerCPU, ClientCPU float64
}

// fanoutBatch is how many long polls connect at once: fewer than the
// listen backlog (net.core.somaxconn, 4096 by default), whose overflow
// would cost a connection a one-second SYN retransmission.
const fanoutBatch = 1000

// fanout has Pollers long polls wait on one group, switches its master
// over, and measures when each poll answers. Every poll waits on the same
// group, the worst case: one change wakes them all.
func (r *runner) fanout(ctx context.Context) (Fanout, []byte, error) {
	n := r.cfg.Pollers
	out := Fanout{System: sysLongPoll, Pollers: n}
	g := ledgerless.GroupKey{Cluster: "fanout", Group: "g"}
	p, err := r.pair(ctx, g, ledgerless.DefaultHeartbeatTimeout)
	defer p.stop()
	if err != nil {
		return out, nil, err
	}
	slave := p.slave
	base, err := r.waiters(ctx)
	if err != nil {
		return out, nil, err
	}

	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	seen := make([]seenAt, n)
	var wg sync.WaitGroup
	// Like brokers, the pollers keep their connections open once they have
	// their answer, until pctx ends.
	defer wg.Wait()
	defer cancel()
	for i := range n {
		wg.Go(func() {
			conn, err := dialPoller(pctx, r.ctl.url)
			if err != nil {
				seen[i].err = err
				return
			}
			seen[i] = conn.waitForMaster(g, slave)
		})
		if (i+1)%fanoutBatch == 0 || i == n-1 {
			if err := r.waitWaiters(pctx, base+i+1); err != nil {
				return out, nil, fmt.Errorf("connect long polls: %w", err)
			}
			r.step("fan-out: %s long polls waiting", count(float64(i+1)))
		}
	}
	before, err := r.costMeter(ctx)
	if err != nil {
		return out, nil, err
	}
	// The clock starts when the switchover is sent, so every figure counts
	// the switchover's own commit too (the first answer bounds its share):
	// the switchover's answer and an etcd watch of this process arrive
	// behind the long polls' answers, well after the commit.
	at := time.Now()
	if err := r.api.elect(ctx, g, slave); err != nil {
		return out, nil, err
	}
	wg.Wait()
	if err := r.delivered(ctx, &out, before, at, seen); err != nil {
		return out, nil, err
	}
	// The answer the long polls read, as the raw baseline's value.
	conn, err := dialPoller(pctx, r.ctl.url)
	if err != nil {
		return out, nil, err
	}
	_, answer, err := conn.get(groupPath(g))
	return out, bytes.Clone(answer), err
}

// delivered fills out from the waiters' arrivals after a change sent at
// at, and the cost since before.
func (r *runner) delivered(ctx context.Context, out *Fanout, before metrics, at time.Time, seen []seenAt) error {
	after, err := r.costMeter(ctx)
	if err != nil {
		return err
	}
	cpu := costOf(before, after, float64(len(seen)))
	out.ServerCPU, out.ClientCPU = cpu.ServerCPU, cpu.ClientCPU
	var lat []time.Duration
	var firstErr error
	for _, s := range seen {
		if s.err != nil {
			firstErr = s.err
			continue
		}
		lat = append(lat, s.at.Sub(at))
	}
	out.Delivered, out.Latency = len(lat), summarize(lat)
	if out.Delivered < len(seen) {
		return fmt.Errorf("%s: %d of %d failed: %w", out.System, len(seen)-out.Delivered, len(seen), firstErr)
	}
	r.step("fan-out: %s, %s waiting: first %s, p50 %s, p99 %s, max %s", out.System, count(float64(len(seen))),
		ms(out.Latency.Min), ms(out.Latency.P50), ms(out.Latency.P99), ms(out.Latency.Max))
	return nil
}

// rawFanout is the fan-out done naively with the etcd client: every
// broker holds its own etcd client, a connection of its own as a long
// poll has, and watches one key, its group's state; one Put of value
// wakes them all. The clock starts when the Put is sent and stops for
// each watch when its event arrives.
func (r *runner) rawFanout(ctx context.Context, value []byte) (Fanout, error) {
	n := r.cfg.Pollers
	out := Fanout{System: sysRawWatch, Pollers: n}
	key := rawPrefix + "fanout"
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	seen := make([]seenAt, n)
	var wg, created sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range n {
		created.Add(1)
		wg.Go(func() { seen[i] = watchOnce(pctx, r.ctl.etcd, key, created.Done) })
		if (i+1)%fanoutBatch == 0 || i == n-1 {
			created.Wait()
			r.step("fan-out: %s etcd watches created", count(float64(i+1)))
		}
	}
	before, err := r.costMeter(ctx)
	if err != nil {
		return out, err
	}
	at := time.Now()
	if _, err := r.raw.cli.Put(ctx, key, string(value)); err != nil {
		return out, err
	}
	wg.Wait()
	return out, r.delivered(ctx, &out, before, at, seen)
}

// watchOnce connects a new etcd client to endpoint, watches key, calls
// created once the watch is created or has failed, and reports when the
// first event arrives. The client stays connected until ctx ends. A
// failure shows once the change is sent: the watch reports no event.
func watchOnce(ctx context.Context, endpoint, key string, created func()) seenAt {
	created = sync.OnceFunc(created)
	defer created()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return seenAt{err: err}
	}
	context.AfterFunc(ctx, func() { cli.Close() })
	for resp := range cli.Watch(ctx, key, clientv3.WithCreatedNotify()) {
		switch {
		case resp.Err() != nil:
			return seenAt{err: resp.Err()}
		case resp.Created:
			created()
		case len(resp.Events) > 0:
			return seenAt{at: time.Now()}
		}
	}
	return seenAt{err: fmt.Errorf("watch %s: %w", key, ctx.Err())}
}

// checkFiles fails when this process cannot open need files: every long
// poll holds a connection, on each side. Go raises the soft limit to the
// hard one at start; only the hard limit (ulimit -Hn) can stop the
// benchmark, and the controller, a Go program too, has the same.
func checkFiles(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let it try
	}
	if lim.Cur < uint64(need) {
		return fmt.Errorf("%d long polls need about %d open files, and the limit is %d: raise it (ulimit -n) or lower --pollers", need-fileMargin, need, lim.Cur)
	}
	return nil
}

// fileMargin is what the benchmark holds open besides the long polls.
const fileMargin = 512
