package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Env describes the machine and the software measured.
type Env struct {
	CPUs        int
	CPUModel    string
	OS          string
	GoVersion   string
	EtcdVersion string
	Date        time.Time
	Command     string
	Rounds      int // of the heartbeat comparison
	Elapsed     time.Duration
	QuotaBytes  float64       // etcd's backend quota
	Steady      time.Duration // of the memory run and today's baseline
	Partial     bool          // only some phases ran (--phases)
	// LoadBefore and LoadAfter are the machine's 1-minute load average
	// when the run started and ended ("" where unknown): what else it
	// was doing, which the absolute figures depend on.
	LoadBefore, LoadAfter string
}

// loadAverage is the 1-minute load average from /proc/loadavg, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func (r *runner) env(ctx context.Context) (Env, error) {
	e := Env{CPUs: runtime.NumCPU(), CPUModel: cpuModel(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(), Date: time.Now().UTC(), Command: r.cfg.Command, Rounds: r.cfg.Rounds, Steady: r.cfg.Steady,
		Partial: len(r.cfg.Phases) > 0, LoadBefore: loadAverage()}
	st, err := r.raw.status(ctx)
	if err != nil {
		return e, fmt.Errorf("etcd status: %w", err)
	}
	e.EtcdVersion = st.Version
	m, err := r.ctl.etcdMetrics(ctx)
	if err != nil {
		return e, err
	}
	e.QuotaBytes = m.sum("etcd_server_quota_backend_bytes")
	return e, nil
}

// cpuModel is the CPU's name from /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// table is a titled grid of cells, rendered as aligned text or Markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
}

func (t table) text(w io.Writer) error {
	fmt.Fprintf(w, "%s\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

func (t table) markdown(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.header, " | "), strings.Repeat("---|", len(t.header)))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

func (rep *Report) heartbeatTable() table {
	t := table{title: "Heartbeats (median throughput of the rounds; latency over every heartbeat)",
		header: []string{"brokers", "concurrency", "system", "heartbeats/s", "p50", "p99", "etcd txns/beat", "keys written/beat", "lease renewals/beat", "WAL bytes/beat", "CPU µs/beat: controller+etcd", "bench client", "errors"}}
	for _, c := range rep.Heartbeat {
		for _, r := range c.Runs {
			t.rows = append(t.rows, []string{count(float64(c.Brokers)), fmt.Sprint(c.Concurrency), r.System,
				count(r.Throughput), ms(r.Latency.P50), ms(r.Latency.P99),
				fmt.Sprintf("%.3f", r.Cost.Txns), fmt.Sprintf("%.2f", r.Cost.Puts), fmt.Sprintf("%.2f", r.Cost.Renewals),
				count(r.Cost.WALBytes), fmt.Sprintf("%.0f", r.Cost.ServerCPU*1e6), fmt.Sprintf("%.0f", r.Cost.ClientCPU*1e6), fmt.Sprint(r.Errors)})
		}
	}
	return t
}

func (rep *Report) ratioTable() table {
	t := table{title: "Headline: ledgerless heartbeat throughput ÷ raw etcd client's (median of per-round ratios; target ≥ 1.0× Put+KeepAliveOnce)",
		header: []string{"brokers", "concurrency", "÷ etcd Put+KeepAliveOnce", "÷ etcd Put"}}
	for _, c := range rep.Heartbeat {
		t.rows = append(t.rows, []string{count(float64(c.Brokers)), fmt.Sprint(c.Concurrency), ratio(c.Ratio), ratio(c.RatioPut)})
	}
	return t
}

func (rep *Report) failoverTable() table {
	t := table{title: "Failover: until a long-polling slave sees itself master (target p99 ≤ 100 ms)",
		header: []string{"master lost by", "clock starts when", "trials", "p50", "p99", "max", "stock DLedger controller, kill -9 → new master"}}
	for _, f := range rep.Failover {
		t.rows = append(t.rows, []string{f.Mode, f.Start, fmt.Sprint(f.Latency.N), ms(f.Latency.P50), ms(f.Latency.P99), ms(f.Latency.Max), f.Anchor})
	}
	for _, f := range rep.Failover {
		if g := f.Granularity; g.N > 0 {
			t.rows = append(t.rows, []string{"(etcd itself)", "the lease's TTL runs out; until the watch sees it deleted", fmt.Sprint(g.N), ms(g.P50), ms(g.P99), ms(g.Max), ""})
		}
	}
	if l := rep.Loaded; l != nil {
		w := l.With
		t.rows = append(t.rows,
			[]string{l.Mode + ", " + count(float64(l.Groups)) + " master-less or paused groups present", "as " + l.Mode, fmt.Sprint(w.N), ms(w.P50), ms(w.P99), ms(w.Max), ""},
			[]string{"÷ the same without them (target ≤ 1.10×)", "", "", ratioOf(float64(w.P50), float64(l.Without.P50)),
				ratioOf(float64(w.P99), float64(l.Without.P99)), ratioOf(float64(w.Max), float64(l.Without.Max)), ""})
	}
	return t
}

func (rep *Report) fanoutTable() table {
	t := table{title: "Fan-out: one change, every waiter on the changed group (target p99 ≤ 100 ms)",
		header: []string{"system", "waiting", "answered", "first", "p50", "p99", "max", "CPU µs/answer: controller+etcd", "bench client"}}
	for _, f := range rep.Fanout {
		t.rows = append(t.rows, []string{f.System, count(float64(f.Pollers)), count(float64(f.Delivered)), ms(f.Latency.Min), ms(f.Latency.P50),
			ms(f.Latency.P99), ms(f.Latency.Max), fmt.Sprintf("%.0f", f.ServerCPU*1e6), fmt.Sprintf("%.0f", f.ClientCPU*1e6)})
	}
	if len(rep.Fanout) == 2 {
		ours, theirs := rep.Fanout[0], rep.Fanout[1]
		t.rows = append(t.rows, []string{"ledgerless ÷ etcd", "", "", "", ratioOf(float64(ours.Latency.P50), float64(theirs.Latency.P50)),
			ratioOf(float64(ours.Latency.P99), float64(theirs.Latency.P99)), ratioOf(float64(ours.Latency.Max), float64(theirs.Latency.Max)),
			ratioOf(ours.ServerCPU, theirs.ServerCPU), ratioOf(ours.ClientCPU, theirs.ClientCPU)})
	}
	return t
}

func (rep *Report) memoryTable() table {
	m := rep.Memory
	per := func(x float64) string { return bytesOf(x / float64(m.Brokers)) }
	return table{title: fmt.Sprintf("Memory and storage: %s brokers in %s groups, a heartbeat each every %s, timeout %s (%s heartbeats/s)",
		count(float64(m.Brokers)), count(float64(m.Groups)), steadyInterval, steadyTimeout, count(m.Heartbeats)),
		header: []string{"what", "total", "per broker"},
		rows: [][]string{
			{"controller replica RSS (etcd external)", fmt.Sprintf("%s (idle: %s)", bytesOf(m.RSS), bytesOf(m.IdleRSS)), bytesOf(m.PerBroker()) + " above idle"},
			{"controller replica Go heap in use", bytesOf(m.Heap), per(m.Heap)},
			{"controller replica with its embedded etcd, RSS", bytesOf(m.EmbeddedRSS), per(m.EmbeddedRSS)},
			{"etcd database file", bytesOf(m.DBSize), per(m.DBSize)},
			{"etcd database in use", bytesOf(m.DBInUse), per(m.DBInUse)},
			{"ledgerless keys in etcd (live)", count(float64(m.Keys)), fmt.Sprintf("%.2f", float64(m.Keys)/float64(m.Brokers))},
			{"their keys and values (live)", bytesOf(float64(m.KeyBytes)), per(float64(m.KeyBytes))},
			{"etcd keys written per heartbeat", fmt.Sprintf("%.3f", m.Cost.Puts), ""},
			{"etcd write transactions per heartbeat", fmt.Sprintf("%.3f", m.Cost.Txns), ""},
			{"etcd write-ahead log per heartbeat", bytesOf(m.Cost.WALBytes), ""},
			{"controller CPU per heartbeat", fmt.Sprintf("%.0f µs", m.ControllerCPU*1e6), ""},
			{"etcd CPU per heartbeat", fmt.Sprintf("%.0f µs", m.EtcdCPU*1e6), ""},
		}}
}

// WriteTable prints the results of the phases that ran as aligned text
// tables.
func (rep *Report) WriteTable(w io.Writer) error {
	var ts []table
	if len(rep.Heartbeat) > 0 {
		ts = append(ts, rep.heartbeatTable(), rep.ratioTable())
	}
	if len(rep.Failover) > 0 {
		ts = append(ts, rep.failoverTable())
	}
	if len(rep.RocketMQFailover) > 0 {
		ts = append(ts, rep.rocketmqFailoverTable())
	}
	if len(rep.Fanout) > 0 {
		ts = append(ts, rep.fanoutTable())
	}
	if rep.Memory.Brokers > 0 {
		ts = append(ts, rep.memoryTable(), rep.targetsTable())
	}
	if rep.RocketMQHeartbeat != nil {
		ts = append(ts, rep.rocketmqHeartbeatTable())
	}
	for _, t := range ts {
		if err := t.text(w); err != nil {
			return err
		}
	}
	return nil
}
