package bench

import (
	"fmt"
	"io"
	"slices"

	"github.com/ledgerless/ledgerless/store"
)

// historyWindow is the most history the embedded etcd holds: it compacts
// every period to the revision of one period earlier, so up to two
// periods of it.
var historyWindow = 2 * store.DefaultCompactionRetention.Seconds()

// todayWindow is the history the cost model counted before: etcd's own
// periodic compaction of 2 minutes.
var todayWindow = todayRetention.Seconds()

// todayBrokersPerCore is the etcd capacity of the heartbeat path when
// every heartbeat wrote: 12,489 brokers per etcd core (80 µs of etcd CPU
// per heartbeat), as BENCHMARKS.md of 2026-11-25 measured it on this
// benchmark's 2-CPU machine. It is the reference the cost model's
// brokers per core is compared with; it cannot be measured in the same
// run, as no release writes every heartbeat any more.
const todayBrokersPerCore = 12489

// perCore is how many brokers, at a heartbeat a second, one etcd core
// serves; 0 when unmeasured.
func (m Memory) perCore() float64 {
	if m.EtcdCPU <= 0 {
		return 0
	}
	return 1 / m.EtcdCPU / heartbeatsPerSecond
}

// perQuota is how many brokers fit etcd's backend quota with the history
// they leave, today and now; 0 when unmeasured.
func (rep *Report) perQuota() (now, today float64) {
	m, q := rep.Memory, rep.Env.QuotaBytes
	if m.HistoryPerBeat > 0 {
		now = q / (m.HistoryPerBeat * historyWindow * heartbeatsPerSecond)
	}
	if t := m.Today; t.BytesPerPut > 0 && t.Puts > 0 {
		today = q / (t.BytesPerPut * t.Puts * todayWindow * heartbeatsPerSecond)
	}
	return now, today
}

// worstRatios are the lowest throughput ratios of the heartbeat cells,
// against Put+KeepAliveOnce and against Put.
func (rep *Report) worstRatios() (lease, put float64) {
	if len(rep.Heartbeat) == 0 {
		return 0, 0
	}
	var ls, ps []float64
	for _, c := range rep.Heartbeat {
		ls, ps = append(ls, c.Ratio), append(ps, c.RatioPut)
	}
	return slices.Min(ls), slices.Min(ps)
}

// targetsTable sets the figures of issue #19 side by side with today's
// and their targets.
func (rep *Report) targetsTable() table {
	m := rep.Memory
	t := table{title: fmt.Sprintf("Targets: heartbeats cost etcd less than a write (memory run: %s brokers, a heartbeat every %s, timeout %s)",
		count(float64(m.Brokers)), steadyInterval, steadyTimeout),
		header: []string{"figure", "ledgerless", "today", "ratio", "target"}}
	lease, put := rep.worstRatios()
	nowQ, todayQ := rep.perQuota()
	hist100k := 100000 * heartbeatsPerSecond * m.HistoryPerBeat * historyWindow
	within := "no"
	if rep.Env.QuotaBytes > 0 && hist100k < rep.Env.QuotaBytes {
		within = "yes"
	}
	t.rows = [][]string{
		{"etcd keys written per heartbeat", fmt.Sprintf("%.3f", m.Cost.Puts), fmt.Sprintf("%.2f", m.Today.Puts), ratioOf(m.Cost.Puts, m.Today.Puts), "≤ 0.34"},
		{"heartbeat throughput ÷ etcd Put, same concurrency (lowest cell)", ratio(put), "", "", "≥ 1.0×"},
		{"heartbeat throughput ÷ etcd Put+KeepAliveOnce (lowest cell)", ratio(lease), "", "", "≥ 1.5×"},
		{"etcd database file", bytesOf(m.DBSize), bytesOf(m.Today.DBSize), ratioOf(m.DBSize, m.Today.DBSize), "≤ 0.5×"},
		{"etcd database in use", bytesOf(m.DBInUse), bytesOf(m.Today.DBInUse), ratioOf(m.DBInUse, m.Today.DBInUse), ""},
		{"RSS of the replica with its embedded etcd", bytesOf(m.EmbeddedRSS), bytesOf(m.Today.RSS), ratioOf(m.EmbeddedRSS, m.Today.RSS), "≤ 0.5×"},
		{"brokers per etcd core (today: 2026-11-25's run)", count(m.perCore()), count(todayBrokersPerCore), ratioOf(m.perCore(), todayBrokersPerCore), "≥ 3×"},
		{"brokers within the etcd quota", count(nowQ), count(todayQ), ratioOf(nowQ, todayQ), "≥ 3×"},
		{fmt.Sprintf("history of 100,000 brokers (quota %s)", bytesOf(rep.Env.QuotaBytes)), bytesOf(hist100k), "", "", "within: " + within},
	}
	return t
}

func (rep *Report) writeTargets(w io.Writer) {
	m := rep.Memory
	fmt.Fprintf(w, "## Targets\n\n")
	fmt.Fprintf(w, "The figures of issue #19, all from this run. *Today* is the baseline measured in the same run at the same cadence: "+
		"a second embedded etcd run as before (etcd's %s periodic compaction, no defragmentation) that receives one write of a "+
		"heartbeat record per heartbeat, which is what every heartbeat of an active broker cost before; its replica runs no "+
		"brokers, so its RSS is the lower bound of today's, and it ran for %s only, so its history is at most that much and not "+
		"the two minutes it keeps: both make the ratios conservative. The cost model's figures are in its section below.\n\n",
		todayRetention, rep.Env.Steady)
	rep.targetsTable().markdown(w)
	_ = m
}
