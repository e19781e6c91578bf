package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ledgerless/ledgerless"
)

// The systems measured side by side.
const (
	sysLedgerless = "ledgerless REST heartbeat"
	sysRawLease   = "etcd Put+KeepAliveOnce"
	sysRawPut     = "etcd Put"
)

// heartbeatTTL is the heartbeat timeout of the benchmark's brokers, long
// enough that none expires while the other systems take their turn.
const heartbeatTTL = time.Minute

// HeartbeatCell compares the systems at one broker count and concurrency.
type HeartbeatCell struct {
	Brokers, Concurrency int
	Runs                 []HeartbeatRun // ledgerless, raw Put+KeepAliveOnce, raw Put
	// Ratio is ledgerless's throughput over raw Put+KeepAliveOnce's, the
	// median of the rounds' ratios (each round runs the systems back to
	// back, so a ratio compares measurements a few seconds apart).
	Ratio    float64
	RatioPut float64 // the same against raw Put
}

// HeartbeatRun is one system's result over every round.
type HeartbeatRun struct {
	System     string
	Throughput float64 // heartbeats per second, median of the rounds
	Latency    Latency // every heartbeat of every round
	Errors     int
	Cost       Cost // per heartbeat
}

// Cost is the work per heartbeat: etcd's, from etcd's own metrics, and
// CPU, from the processes' own accounting.
type Cost struct {
	Txns     float64 // raft proposals: write transactions and lease grants
	Puts     float64 // keys written
	PutBytes float64 // their keys' and values' bytes
	Renewals float64 // lease renewals
	WALBytes float64 // bytes appended to etcd's write-ahead log
	Events   float64 // watch events sent to watchers

	// CPU seconds per heartbeat of the controller process (with its
	// embedded etcd) and of this one (the load generator or raw client).
	ServerCPU, ClientCPU float64
}

// system is one way of sending broker i's heartbeat.
type system struct {
	name string
	beat func(ctx context.Context, i int) error
}

// brokerPos names the group and register code of heartbeat broker i:
// three brokers per group, as in a master/slave/slave deployment.
func brokerPos(i int) (ledgerless.GroupKey, string) {
	return ledgerless.GroupKey{Cluster: "hb", Group: fmt.Sprintf("g%05d", i/3)}, fmt.Sprintf("b%d", i)
}

// registerUpTo registers heartbeat brokers until there are n, in passes of
// one broker per group so that registrations rarely contend for a group.
func (r *runner) registerUpTo(ctx context.Context, n int) error {
	from := len(r.paths)
	r.paths = append(r.paths, make([]string, max(n-from, 0))...)
	for m := range 3 {
		err := forEach(ctx, from/3, (n+2)/3, 64, func(ctx context.Context, grp int) error {
			i := 3*grp + m
			if i < from || i >= n {
				return nil
			}
			g, code := brokerPos(i)
			id, err := r.api.register(ctx, g, code, heartbeatTTL)
			r.paths[i] = heartbeatPath(g, id)
			return err
		})
		if err != nil {
			return fmt.Errorf("register brokers: %w", err)
		}
	}
	return nil
}

// restBeat is the ledgerless system on the replica that a serves.
func (r *runner) restBeat(a *api) system {
	return system{name: sysLedgerless, beat: func(ctx context.Context, i int) error {
		return a.heartbeat(ctx, r.paths[i], r.offsets[i].Add(1))
	}}
}

// heartbeats runs the heartbeat comparison at every broker count and
// concurrency.
func (r *runner) heartbeats(ctx context.Context) ([]HeartbeatCell, error) {
	var cells []HeartbeatCell
	for _, n := range r.cfg.Brokers {
		r.step("heartbeat: registering %s brokers (%s groups) and granting as many raw leases", count(float64(n)), count(float64((n+2)/3)))
		if err := r.registerUpTo(ctx, n); err != nil {
			return nil, err
		}
		if err := r.raw.grant(ctx, n, 64, heartbeatTTL); err != nil {
			return nil, err
		}
		systems := []system{r.restBeat(r.api), {sysRawLease, r.raw.putWithLease}, {sysRawPut, r.raw.put}}
		r.step("heartbeat: warming up (one heartbeat per broker and system)")
		for _, sys := range systems {
			if err := forEach(ctx, 0, n, 64, sys.beat); err != nil {
				return nil, fmt.Errorf("warm up %s: %w", sys.name, err)
			}
		}
		for _, c := range r.cfg.Concurrency {
			cell, err := r.heartbeatCell(ctx, systems, n, c)
			if err != nil {
				return nil, err
			}
			cells = append(cells, cell)
		}
	}
	return cells, nil
}

// heartbeatCell runs every system Rounds times, back to back.
func (r *runner) heartbeatCell(ctx context.Context, systems []system, n, c int) (HeartbeatCell, error) {
	cell := HeartbeatCell{Brokers: n, Concurrency: c}
	thr := make([][]float64, len(systems))
	lats := make([][]time.Duration, len(systems))
	runs := make([]HeartbeatRun, len(systems))
	ops := make([]int, len(systems))
	var ratios, ratiosPut []float64
	for round := range r.cfg.Rounds {
		for s, sys := range systems {
			before, err := r.costMeter(ctx)
			if err != nil {
				return cell, err
			}
			res := load(ctx, sys, n, c, r.cfg.Duration)
			after, err := r.costMeter(ctx)
			if err != nil {
				return cell, err
			}
			if res.ops == 0 {
				return cell, fmt.Errorf("%s: no heartbeat succeeded: %w", sys.name, res.err)
			}
			thr[s] = append(thr[s], res.throughput())
			lats[s] = append(lats[s], res.lats...)
			runs[s].System, runs[s].Errors = sys.name, runs[s].Errors+res.errs
			runs[s].Cost, ops[s] = runs[s].Cost.add(costOf(before, after, 1)), ops[s]+res.ops
			l := summarize(res.lats)
			r.step("heartbeat: %s brokers × %d, round %d/%d, %s: %s/s, p50 %s, p99 %s%s", count(float64(n)), c,
				round+1, r.cfg.Rounds, sys.name, count(res.throughput()), ms(l.P50), ms(l.P99), errNote(res))
		}
		ratios = append(ratios, thr[0][round]/thr[1][round])
		ratiosPut = append(ratiosPut, thr[0][round]/thr[2][round])
	}
	for s := range systems {
		runs[s].Throughput, runs[s].Latency = median(thr[s]), summarize(lats[s])
		runs[s].Cost = runs[s].Cost.scale(1 / float64(ops[s]))
	}
	cell.Runs, cell.Ratio, cell.RatioPut = runs, median(ratios), median(ratiosPut)
	return cell, nil
}

func errNote(res loadResult) string {
	if res.errs == 0 {
		return ""
	}
	return fmt.Sprintf(", %d errors (first: %v)", res.errs, res.err)
}

// costMeter reads etcd's metrics, the controller's CPU time and this
// process's, so that the difference of two readings is a run's cost.
func (r *runner) costMeter(ctx context.Context) (metrics, error) {
	m, err := r.ctl.etcdMetrics(ctx)
	if err != nil {
		return nil, err
	}
	// The embedded etcd runs in the controller's process and serves the
	// same process metrics.
	m["server_cpu"] = m.sum("process_cpu_seconds_total")
	m["client_cpu"] = selfCPU()
	return m, nil
}

// costOf is the cost between two readings of costMeter, divided by ops.
func costOf(before, after metrics, ops float64) Cost {
	d := func(name string) float64 { return (after.sum(name) - before.sum(name)) / ops }
	return Cost{Txns: d("etcd_server_proposals_committed_total"), Puts: d("etcd_mvcc_put_total"),
		PutBytes: d("etcd_debugging_mvcc_total_put_size_in_bytes"), Renewals: d("etcd_debugging_lease_renewed_total"),
		WALBytes: d("etcd_disk_wal_write_bytes_total"), Events: d("etcd_debugging_mvcc_events_total"),
		ServerCPU: d("server_cpu"), ClientCPU: d("client_cpu")}
}

// selfCPU is this process's CPU time (user and system) in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func (c Cost) add(o Cost) Cost {
	return Cost{Txns: c.Txns + o.Txns, Puts: c.Puts + o.Puts, PutBytes: c.PutBytes + o.PutBytes,
		Renewals: c.Renewals + o.Renewals, WALBytes: c.WALBytes + o.WALBytes, Events: c.Events + o.Events,
		ServerCPU: c.ServerCPU + o.ServerCPU, ClientCPU: c.ClientCPU + o.ClientCPU}
}

func (c Cost) scale(f float64) Cost {
	return Cost{Txns: c.Txns * f, Puts: c.Puts * f, PutBytes: c.PutBytes * f, Renewals: c.Renewals * f,
		WALBytes: c.WALBytes * f, Events: c.Events * f, ServerCPU: c.ServerCPU * f, ClientCPU: c.ClientCPU * f}
}

// loadResult is one system's run at one size.
type loadResult struct {
	ops, errs int
	err       error // the first error
	elapsed   time.Duration
	lats      []time.Duration // of the successful heartbeats
}

func (l loadResult) throughput() float64 { return float64(l.ops) / l.elapsed.Seconds() }

// load sends heartbeats of brokers 0..n-1 in turn from c workers, each
// waiting for its answer before the next, for d.
func load(ctx context.Context, sys system, n, c int, d time.Duration) loadResult {
	var next atomic.Int64
	var mu sync.Mutex
	var res loadResult
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			var lats []time.Duration
			var errs int
			var first error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int((next.Add(1) - 1) % int64(n))
				t0 := time.Now()
				if err := sys.beat(ctx, i); err != nil {
					errs++
					first = cmp.Or(first, err)
					continue
				}
				lats = append(lats, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			res.lats = append(res.lats, lats...)
			res.errs += errs
			res.err = cmp.Or(res.err, first)
		})
	}
	wg.Wait()
	res.elapsed, res.ops = time.Since(start), len(res.lats)
	res.lats = slices.Clip(res.lats)
	return res
}
