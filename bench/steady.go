package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RocketMQ's cadence, at which the memory and storage run heartbeats: a
// heartbeat a second (brokerHeartbeatInterval) and a 10 s timeout.
const (
	steadyInterval = time.Second
	steadyTimeout  = 10 * time.Second
)

// todayRetention and todayArgs are how the embedded etcd was run before
// heartbeats wrote only when it matters: etcd's periodic compaction of
// 2 minutes and no defragmentation.
const todayRetention = 2 * time.Minute

var todayArgs = []string{"--embedded-compaction-retention", todayRetention.String(), "--embedded-no-defrag"}

// Today is the baseline of the memory run: a second embedded etcd, run as
// today's configuration, that receives one write per heartbeat (what every
// heartbeat of an active broker cost before), from the raw client at the
// same cadence and for as long.
type Today struct {
	Heartbeats  float64 // per second
	Puts        float64 // keys written per heartbeat
	DBSize      float64
	DBInUse     float64
	RSS         float64 // of its `ledgerless serve` process with the embedded etcd
	BytesPerPut float64 // growth of the database in use per key written: a revision's cost in history
}

// paced sends a heartbeat of each of brokers 0..n-1 every interval, spread
// evenly over it, from c workers, for d. When the workers fall behind the
// schedule waits for them: the rate achieved is what the result reports.
func paced(ctx context.Context, sys system, n, c int, interval, d time.Duration) loadResult {
	jobs := make(chan int, c)
	start := time.Now()
	end := start.Add(d)
	go func() {
		defer close(jobs)
		for k := 0; ; k++ {
			for i := range n {
				due := start.Add(time.Duration(k)*interval + time.Duration(i)*interval/time.Duration(n))
				if !due.Before(end) || ctx.Err() != nil {
					return
				}
				if wait := time.Until(due); wait > time.Millisecond {
					time.Sleep(wait)
				}
				jobs <- i
			}
		}
	}()
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			var lats []time.Duration
			var errs int
			var first error
			for i := range jobs {
				t0 := time.Now()
				if err := sys.beat(ctx, i); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lats = append(lats, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			res.lats = append(res.lats, lats...)
			res.errs += errs
			if res.err == nil {
				res.err = first
			}
		})
	}
	wg.Wait()
	res.elapsed, res.ops = time.Since(start), len(res.lats)
	return res
}

// today runs the baseline: n keys, each Put once per steadyInterval for
// d into a fresh embedded etcd run as today's configuration.
func (r *runner) today(ctx context.Context, n int, d time.Duration) (Today, error) {
	var t Today
	r.step("memory: today's baseline: an embedded etcd with %s compaction and no defragmentation, one Put per heartbeat of %s brokers",
		todayRetention, count(float64(n)))
	ctl, err := startController(ctx, r.cfg.Binary, r.dir, "bench-today", "", todayArgs...)
	if err != nil {
		return t, err
	}
	defer ctl.stop()
	raw, err := newRaw(ctl.etcd, n)
	if err != nil {
		return t, err
	}
	defer raw.close()
	if err := raw.grant(ctx, n, 64, time.Minute); err != nil {
		return t, err
	}
	before, err := ctl.etcdMetrics(ctx)
	if err != nil {
		return t, err
	}
	st0, err := raw.status(ctx)
	if err != nil {
		return t, err
	}
	res := paced(ctx, system{"today", raw.put}, n, 128, steadyInterval, d)
	if res.ops == 0 {
		return t, fmt.Errorf("today's baseline: no Put succeeded: %w", res.err)
	}
	after, err := ctl.etcdMetrics(ctx)
	if err != nil {
		return t, err
	}
	st, err := raw.status(ctx)
	if err != nil {
		return t, err
	}
	puts := after.sum("etcd_mvcc_put_total") - before.sum("etcd_mvcc_put_total")
	t.Heartbeats, t.Puts = res.throughput(), puts/float64(res.ops)
	t.DBSize, t.DBInUse = float64(st.DbSize), float64(st.DbSizeInUse)
	t.RSS = after.sum("process_resident_memory_bytes")
	t.BytesPerPut = float64(st.DbSizeInUse-st0.DbSizeInUse) / puts
	r.step("memory: today's baseline: %s Puts/s, etcd db %s (%s in use), RSS %s", count(t.Heartbeats),
		bytesOf(t.DBSize), bytesOf(t.DBInUse), bytesOf(t.RSS))
	return t, nil
}
