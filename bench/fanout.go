package bench

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Fanout is the delivery of one master change to many long polls of the
// changed group.
type Fanout struct {
	Pollers   int
	Delivered int
	// Latency runs from the switchover being sent to each long poll's
	// answer arriving.
	Latency Latency
	// CPU seconds per answered long poll, from the switchover to the last
	// answer, of the controller's process and of the bench's.
	ServerCPU, ClientCPU float64
}

// fanoutBatch is how many long polls connect at once: fewer than the
// listen backlog (net.core.somaxconn, 4096 by default), whose overflow
// would cost a connection a one-second SYN retransmission.
const fanoutBatch = 1000

// fanout has Pollers long polls wait on one group, switches its master
// over, and measures when each poll answers. Every poll waits on the same
// group, the worst case: one change wakes them all.
func (r *runner) fanout(ctx context.Context) (Fanout, error) {
	n := r.cfg.Pollers
	out := Fanout{Pollers: n}
	g := ledgerless.GroupKey{Cluster: "fanout", Group: "g"}
	p, err := r.pair(ctx, g, ledgerless.DefaultHeartbeatTimeout)
	defer p.stop()
	if err != nil {
		return out, err
	}
	slave := p.slave
	base, err := r.waiters(ctx)
	if err != nil {
		return out, err
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
				return out, fmt.Errorf("connect long polls: %w", err)
			}
			r.step("fan-out: %s long polls waiting", count(float64(i+1)))
		}
	}
	before, err := r.costMeter(ctx)
	if err != nil {
		return out, err
	}
	// The clock starts when the switchover is sent, so every figure counts
	// the switchover's own commit too (the first answer bounds its share):
	// the switchover's answer and an etcd watch of this process arrive
	// behind the long polls' answers, well after the commit.
	at := time.Now()
	if err := r.api.elect(ctx, g, slave); err != nil {
		return out, err
	}
	wg.Wait()
	after, err := r.costMeter(ctx)
	if err != nil {
		return out, err
	}
	cpu := costOf(before, after, float64(n))
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
	if out.Delivered < n {
		return out, fmt.Errorf("%d of %d long polls failed: %w", n-out.Delivered, n, firstErr)
	}
	r.step("fan-out: %d long polls: first %s, p50 %s, p99 %s, max %s", n, ms(out.Latency.Min), ms(out.Latency.P50), ms(out.Latency.P99), ms(out.Latency.Max))
	return out, nil
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
