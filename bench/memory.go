package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ledgerless/ledgerless/store"
)

// Memory is what a controller replica and etcd hold for many registered,
// heartbeating brokers.
type Memory struct {
	Brokers, Groups int
	Heartbeats      float64 // heartbeats per second while measured

	// A second replica, on the first one's etcd, takes every heartbeat:
	// its memory is the controller's alone.
	IdleRSS, RSS, Heap float64

	// The first replica runs the embedded etcd; its memory is both.
	EmbeddedRSS float64

	DBSize, DBInUse float64 // etcd's database file, and the part in use
	Keys            int     // ledgerless's keys in etcd
	KeyBytes        int64   // their keys' and values' bytes

	// HistoryPerBeat is the history a heartbeat leaves in etcd until the
	// next compaction: the keys it writes times a revision's bytes (as
	// today's baseline measured them, where nothing is compacted).
	HistoryPerBeat float64

	// Cost is etcd's work per heartbeat at RocketMQ's cadence.
	Cost Cost
	// Today is the baseline: one write per heartbeat, today's compaction.
	Today Today

	// CPU seconds per heartbeat of the second replica (the controller
	// alone) and of the first (idle but for its embedded etcd).
	ControllerCPU, EtcdCPU float64
}

// PerBroker is the controller's resident memory per broker.
func (m Memory) PerBroker() float64 { return (m.RSS - m.IdleRSS) / float64(m.Brokers) }

// memory measures with every heartbeat broker registered: it starts a
// second replica on the first one's etcd, heartbeats every broker through
// it at RocketMQ's cadence (steadyInterval, steadyTimeout) for Steady,
// and reads both replicas' memory and etcd's size; then it runs today's
// baseline at the same cadence for as long.
func (r *runner) memory(ctx context.Context) (Memory, error) {
	n := len(r.paths)
	m := Memory{Brokers: n, Groups: (n + 2) / 3}
	r.step("memory: starting a second replica on the first one's etcd")
	ctl, err := startController(ctx, r.cfg.Binary, r.dir, "bench-2", r.ctl.etcd)
	if err != nil {
		return m, err
	}
	defer ctl.stop()
	idle, err := ctl.metrics(ctx)
	if err != nil {
		return m, err
	}
	m.IdleRSS = idle.sum("process_resident_memory_bytes")

	a := newAPI(ctl.url, 64)
	defer a.close()
	sys := system{name: sysLedgerless, beat: func(ctx context.Context, i int) error {
		return a.heartbeatTimeout(ctx, r.paths[i], r.offsets[i].Add(1), steadyTimeout)
	}}
	r.step("memory: %s brokers in %s groups heartbeat through it, timeout %s (a new lease each)", count(float64(n)), count(float64(m.Groups)), steadyTimeout)
	if err := convert(ctx, sys, n, steadyInterval); err != nil {
		return m, fmt.Errorf("heartbeat through the second replica: %w", err)
	}
	before, err := scrapeBoth(ctx, ctl, r.ctl)
	if err != nil {
		return m, err
	}
	etcd0, err := r.ctl.etcdMetrics(ctx)
	if err != nil {
		return m, err
	}
	r.step("memory: a heartbeat per broker every %s for %s", steadyInterval, r.cfg.Steady)
	res := paced(ctx, sys, n, 128, steadyInterval, r.cfg.Steady)
	if res.ops == 0 {
		return m, fmt.Errorf("no heartbeat through the second replica succeeded: %w", res.err)
	}
	m.Heartbeats = res.throughput()
	after, err := scrapeBoth(ctx, ctl, r.ctl)
	if err != nil {
		return m, err
	}
	etcd1, err := r.ctl.etcdMetrics(ctx)
	if err != nil {
		return m, err
	}
	m.Cost = costOf(etcd0, etcd1, float64(res.ops))
	cpu := func(i int) float64 {
		return (after[i].sum("process_cpu_seconds_total") - before[i].sum("process_cpu_seconds_total")) / float64(res.ops)
	}
	m.ControllerCPU, m.EtcdCPU = cpu(0), cpu(1)
	m.RSS, m.Heap = after[0].sum("process_resident_memory_bytes"), after[0].sum("go_memstats_heap_inuse_bytes")
	m.EmbeddedRSS = after[1].sum("process_resident_memory_bytes")
	st, err := r.raw.status(ctx)
	if err != nil {
		return m, err
	}
	m.DBSize, m.DBInUse = float64(st.DbSize), float64(st.DbSizeInUse)
	if m.Keys, m.KeyBytes, err = r.raw.size(ctx, store.DefaultPrefix); err != nil {
		return m, err
	}
	r.step("memory: %s heartbeats/s, %.3f keys written per heartbeat; controller %s (idle %s), with embedded etcd %s; etcd db %s (%s in use), %s keys",
		count(m.Heartbeats), m.Cost.Puts, bytesOf(m.RSS), bytesOf(m.IdleRSS), bytesOf(m.EmbeddedRSS), bytesOf(m.DBSize), bytesOf(m.DBInUse), count(float64(m.Keys)))
	ctl.stop() // its brokers' leases run out: nothing else heartbeats now
	if m.Today, err = r.today(ctx, n, r.cfg.Steady); err != nil {
		return m, err
	}
	m.HistoryPerBeat = m.Cost.Puts * m.Today.BytesPerPut
	return m, nil
}

// scrapeBoth scrapes the metrics of two replicas.
func scrapeBoth(ctx context.Context, a, b *controller) ([2]metrics, error) {
	ma, err := a.metrics(ctx)
	if err != nil {
		return [2]metrics{}, err
	}
	mb, err := b.metrics(ctx)
	return [2]metrics{ma, mb}, err
}

// convert sends every broker's first heartbeat of sys, which gives it a
// new lease, in chunks, while a keeper heartbeats the brokers converted
// so far every interval: converting many brokers takes longer than their
// timeout (a lease grant, a transaction and a revocation each), and the
// first ones must not expire before the steady run begins.
func convert(ctx context.Context, sys system, n int, interval time.Duration) error {
	const chunk = 500
	var done atomic.Int64
	kctx, stop := context.WithCancel(ctx)
	kept := make(chan error, 1)
	go func() {
		for kctx.Err() == nil {
			sweep := time.Now()
			if err := forEach(kctx, 0, int(done.Load()), 64, sys.beat); err != nil && kctx.Err() == nil {
				kept <- err
				return
			}
			select {
			case <-kctx.Done():
			case <-time.After(time.Until(sweep.Add(interval))):
			}
		}
		kept <- nil
	}()
	var err error
	for from := 0; from < n && err == nil; from += chunk {
		to := min(from+chunk, n)
		if err = forEach(ctx, from, to, 64, sys.beat); err == nil {
			done.Store(int64(to))
		}
	}
	stop()
	if kerr := <-kept; err == nil {
		err = kerr
	}
	return err
}
