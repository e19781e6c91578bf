// Package bench measures a ledgerless controller side by side with the raw
// etcd client, in one run on one machine: heartbeat throughput and latency,
// failover latency, long-poll fan-out and memory. It reports medians,
// percentiles and ratios, never a single absolute time, because machines
// are shared and noisy.
//
// The controller runs as a child `ledgerless serve` process with its
// embedded etcd, started exactly as an operator starts one, so that the
// controller's memory and CPU are its own and not the load generator's.
// The load generator (HTTP/1.1 clients with keep-alive, like brokers) and
// the raw etcd client run in this process, against the same etcd, at the
// same concurrency, taking turns round after round.
//
// bench is, besides store and election, the one package that imports the
// etcd client: the naive baseline it measures against is the raw client by
// definition. It reads ledgerless's state only through package store.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// Config sizes a benchmark run.
type Config struct {
	Binary         string        // the ledgerless binary, run as `serve`
	Brokers        []int         // broker counts of the heartbeat comparison; memory uses the largest
	Concurrency    []int         // heartbeats in flight at once
	Duration       time.Duration // of one heartbeat measurement
	Steady         time.Duration // of the memory run at a heartbeat a second, and of today's baseline
	Rounds         int           // measurements of each system at each size, interleaved
	FailoverTrials int           // trials of each way of losing a master
	Pollers        int           // long polls of the fan-out
	// Phases are the phases to run (PhaseFailover, ...); nil: all.
	Phases []string
	// Brokersim is the brokersim binary, whose processes the failovers of
	// real brokers kill; "" skips those rows.
	Brokersim string
	// Masterless is the number of master-less or paused groups present
	// during the failover trials that measure their effect.
	Masterless int
	// RocketMQBrokers are the RocketMQ-protocol brokers of the RocketMQ
	// heartbeat comparison, each heartbeating once a second for Steady.
	RocketMQBrokers int
	// RocketMQTrials are the trials of each way of losing a
	// RocketMQ-protocol master, at each heartbeat timeout.
	RocketMQTrials int
	Out            string    // Markdown report written here; "" none
	Micro          string    // file of `go test -bench` output to include; "" none
	Command        string    // the command line, for the report
	Progress       io.Writer // one line per step; nil: none
}

// Defaults returns the full benchmark's sizes.
func Defaults() Config {
	return Config{Brokers: []int{1000, 10000}, Concurrency: []int{64, 256}, Duration: 5 * time.Second, Steady: time.Minute,
		Rounds: 3, FailoverTrials: 30, Pollers: 5000, Masterless: 1000, RocketMQBrokers: 1000, RocketMQTrials: 10, Out: "BENCHMARKS.md"}
}

// The phases of a run, in the order they run.
const (
	PhaseFailover          = "failover"
	PhaseRocketMQFailover  = "rocketmq-failover"
	PhaseFanout            = "fanout"
	PhaseHeartbeat         = "heartbeat"
	PhaseMemory            = "memory" // needs PhaseHeartbeat's brokers
	PhaseRocketMQHeartbeat = "rocketmq-heartbeat"
)

// Phases are every phase, in the order they run.
var Phases = []string{PhaseFailover, PhaseRocketMQFailover, PhaseFanout, PhaseHeartbeat, PhaseMemory, PhaseRocketMQHeartbeat}

// runs says whether c runs phase.
func (c *Config) runs(phase string) bool {
	return len(c.Phases) == 0 || slices.Contains(c.Phases, phase)
}

// Validate checks c.
func (c *Config) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("bench: the ledgerless binary is required")
	case len(c.Brokers) == 0 || slices.Min(c.Brokers) < 1:
		return errors.New("brokers: want positive counts")
	case len(c.Concurrency) == 0 || slices.Min(c.Concurrency) < 1:
		return errors.New("concurrency: want positive counts")
	case c.Duration <= 0 || c.Steady <= 0:
		return errors.New("duration and steady must be positive")
	case c.Rounds < 1 || c.FailoverTrials < 1 || c.Pollers < 1:
		return errors.New("rounds, failover-trials and pollers must be at least 1")
	case c.Masterless < 0 || c.RocketMQBrokers < 1 || c.RocketMQTrials < 1:
		return errors.New("masterless must not be negative; rocketmq-brokers and rocketmq-trials must be at least 1")
	}
	for _, p := range c.Phases {
		if !slices.Contains(Phases, p) {
			return fmt.Errorf("phase %q: want one of %v", p, Phases)
		}
	}
	if c.runs(PhaseMemory) && !c.runs(PhaseHeartbeat) {
		return errors.New("the memory phase measures the heartbeat phase's brokers: run both")
	}
	if slices.Contains(c.Phases, PhaseRocketMQFailover) && c.Brokersim == "" {
		return errors.New("the rocketmq-failover phase runs brokersim processes: the brokersim binary is required")
	}
	c.Brokers = slices.Sorted(slices.Values(c.Brokers))
	files := c.Pollers + 2*slices.Max(c.Concurrency)
	if c.runs(PhaseRocketMQHeartbeat) {
		files = max(files, 3*c.RocketMQBrokers) // a connection to each replica per broker
	}
	return checkFiles(files + fileMargin)
}

// Report is a run's results.
type Report struct {
	Env       Env
	Heartbeat []HeartbeatCell
	Memory    Memory
	Failover  []Failover
	// Loaded compares failovers with Masterless master-less or paused
	// groups present against the same failovers without (issue 13).
	Loaded *Loaded
	// RocketMQFailover are failovers of RocketMQ-protocol brokersim
	// processes, by kill -9 and SIGSTOP, at two heartbeat timeouts.
	RocketMQFailover []ProcessFailover
	// RocketMQHeartbeat compares RocketMQ heartbeats (904 to 1 and to 3
	// replicas) with the raw etcd client's at the same rate.
	RocketMQHeartbeat *RocketMQHeartbeat
	Fanout            []Fanout // ledgerless, then raw etcd
	Micro             string   // `go test -bench` output
}

// runner is one benchmark run's state.
type runner struct {
	cfg     Config
	dir     string
	started time.Time // when the controller started
	ctl     *controller
	more    []*controller // replicas 2 and 3 on ctl's etcd, once started
	api     *api
	raw     *raw
	paths   []string       // heartbeat route of each heartbeat broker
	offsets []atomic.Int64 // each heartbeat broker's last maxOffset
	t0      time.Time
}

// Run runs the benchmark, writes the table to w and the report to
// cfg.Out, and returns the report.
func Run(ctx context.Context, cfg Config, w io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, t0: time.Now(), offsets: make([]atomic.Int64, slices.Max(cfg.Brokers))}
	rep, err := r.run(ctx)
	if err != nil {
		return nil, err
	}
	rep.Env.Elapsed, rep.Env.LoadAfter = time.Since(r.t0), loadAverage()
	if cfg.Micro != "" {
		b, err := os.ReadFile(cfg.Micro)
		if err != nil {
			return nil, fmt.Errorf("micro-benchmarks: %w", err)
		}
		rep.Micro = string(b)
	}
	if err := rep.WriteTable(w); err != nil {
		return nil, err
	}
	if cfg.Out != "" {
		var buf bytes.Buffer
		if err := rep.WriteMarkdown(&buf); err != nil {
			return nil, err
		}
		out := buf.Bytes()
		if old, err := os.ReadFile(cfg.Out); err == nil && rep.Env.Partial {
			out = mergeSections(old, out)
		}
		if err := os.WriteFile(cfg.Out, out, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", cfg.Out, err)
		}
		r.step("report written to %s", cfg.Out)
	}
	return rep, nil
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	dir, err := os.MkdirTemp("", "ledgerless-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r.dir = dir
	r.step("starting the controller (ledgerless serve, embedded etcd) in %s", dir)
	r.started = time.Now()
	if r.ctl, err = startController(ctx, r.cfg.Binary, dir, "bench-1", ""); err != nil {
		return nil, err
	}
	defer r.ctl.stop()
	r.api = newAPI(r.ctl.url, slices.Max(r.cfg.Concurrency))
	defer r.api.close()
	if r.raw, err = newRaw(r.ctl.etcd, slices.Max(r.cfg.Brokers)); err != nil {
		return nil, err
	}
	defer r.raw.close()

	rep := &Report{}
	if rep.Env, err = r.env(ctx); err != nil {
		return nil, err
	}
	defer r.stopReplicas()
	// Latencies first: the heartbeat brokers' leases, and the raw ones,
	// outlive their use by a minute and would then all expire at once.
	if r.cfg.runs(PhaseFailover) {
		if rep.Failover, rep.Loaded, err = r.failovers(ctx); err != nil {
			return nil, r.failed("failover", err)
		}
	}
	if r.cfg.runs(PhaseRocketMQFailover) && r.cfg.Brokersim != "" { // asked for by name, it needs one (Validate)
		if rep.RocketMQFailover, err = r.rocketmqFailovers(ctx); err != nil {
			return nil, r.failed("rocketmq failover", err)
		}
	}
	if r.cfg.runs(PhaseFanout) {
		ours, answer, err := r.fanout(ctx)
		if err != nil {
			return nil, r.failed("fan-out", err)
		}
		theirs, err := r.rawFanout(ctx, answer)
		if err != nil {
			return nil, r.failed("fan-out", err)
		}
		rep.Fanout = []Fanout{ours, theirs}
	}
	if r.cfg.runs(PhaseHeartbeat) {
		if rep.Heartbeat, err = r.heartbeats(ctx); err != nil {
			return nil, r.failed("heartbeat", err)
		}
	}
	if r.cfg.runs(PhaseMemory) {
		if rep.Memory, err = r.memory(ctx); err != nil {
			return nil, r.failed("memory", err)
		}
	}
	// Last: its brokers' leases have a RocketMQ timeout of 10 s.
	if r.cfg.runs(PhaseRocketMQHeartbeat) {
		if rep.RocketMQHeartbeat, err = r.rocketmqHeartbeats(ctx); err != nil {
			return nil, r.failed("rocketmq heartbeat", err)
		}
	}
	return rep, nil
}

// failed names the phase that failed and adds the controller's log when it
// exited.
func (r *runner) failed(phase string, err error) error {
	if dead := r.ctl.alive(); dead != nil {
		return fmt.Errorf("%s: %w; %w", phase, err, dead)
	}
	return fmt.Errorf("%s: %w", phase, err)
}

// step prints one progress line.
func (r *runner) step(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "[%6.1fs] %s\n", time.Since(r.t0).Seconds(), fmt.Sprintf(format, args...))
	}
}
