package bench

import (
	"context"
	"fmt"

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

	// HistoryPerBeat is how much etcd's database in use grew per
	// heartbeat: the old revisions kept until the next compaction.
	HistoryPerBeat float64

	// CPU seconds per heartbeat of the second replica (the controller
	// alone) and of the first (idle but for its embedded etcd).
	ControllerCPU, EtcdCPU float64
}

// PerBroker is the controller's resident memory per broker.
func (m Memory) PerBroker() float64 { return (m.RSS - m.IdleRSS) / float64(m.Brokers) }

// memory measures with every heartbeat broker registered: it starts a
// second replica on the first one's etcd, heartbeats every broker through
// it for Duration, and reads both replicas' memory and etcd's size.
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
	sys := r.restBeat(a)
	r.step("memory: %s brokers in %s groups heartbeat through it", count(float64(n)), count(float64(m.Groups)))
	if err := forEach(ctx, 0, n, 64, sys.beat); err != nil {
		return m, fmt.Errorf("heartbeat through the second replica: %w", err)
	}
	before, err := scrapeBoth(ctx, ctl, r.ctl)
	if err != nil {
		return m, err
	}
	st0, err := r.raw.status(ctx)
	if err != nil {
		return m, err
	}
	res := load(ctx, sys, n, 64, r.cfg.Duration)
	if res.ops == 0 {
		return m, fmt.Errorf("no heartbeat through the second replica succeeded: %w", res.err)
	}
	m.Heartbeats = res.throughput()
	after, err := scrapeBoth(ctx, ctl, r.ctl)
	if err != nil {
		return m, err
	}
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
	m.HistoryPerBeat = float64(st.DbSizeInUse-st0.DbSizeInUse) / float64(res.ops)
	if m.Keys, m.KeyBytes, err = r.raw.size(ctx, store.DefaultPrefix); err != nil {
		return m, err
	}
	r.step("memory: controller %s (idle %s), with embedded etcd %s; etcd db %s (%s in use), %s keys",
		bytesOf(m.RSS), bytesOf(m.IdleRSS), bytesOf(m.EmbeddedRSS), bytesOf(m.DBSize), bytesOf(m.DBInUse), count(float64(m.Keys)))
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
