package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ledgerless/ledgerless/bench"
)

func newBench() *cobra.Command {
	cfg := bench.Defaults()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a controller against the raw etcd client, side by side",
		Long: `Measure heartbeat throughput and latency (next to the raw etcd client doing
the naive equivalent at the same concurrency), failover latency, long-poll
fan-out and memory, in one run on this machine.

It starts this binary as a controller ("serve", with an embedded etcd in a
temporary directory, on free 127.0.0.1 ports), prints one progress line per
step on stderr and the results as tables on stdout, and writes them with a
cost model to --out. The defaults take several minutes; the flags scale it
down. Only ratios measured in the same run are comparable. --phases runs
some phases only and merges their sections into the --out file.`,
		Example: `  # the full benchmark, writing BENCHMARKS.md
  ledgerless bench

  # a smoke run in seconds
  ledgerless bench --brokers 30 --concurrency 4 --duration 200ms --rounds 1 \
    --failover-trials 1 --pollers 20 --steady 2s --out ''

  # the RocketMQ phases only, merged into BENCHMARKS.md
  ledgerless bench --phases rocketmq-failover,rocketmq-heartbeat`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			cfg.Binary, cfg.Progress = exe, cmd.ErrOrStderr()
			if !cmd.Flags().Changed("brokersim") {
				if sim := filepath.Join(filepath.Dir(exe), "brokersim"); fileExists(sim) {
					cfg.Brokersim = sim
				} else if sim, err := exec.LookPath("brokersim"); err == nil {
					cfg.Brokersim = sim
				}
			}
			cfg.Command = benchCommand(cmd)
			_, err = bench.Run(cmd.Context(), cfg, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&cfg.Brokers, "brokers", cfg.Brokers, "broker counts of the heartbeat comparison, comma-separated; memory is measured with the largest")
	f.IntSliceVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "heartbeats in flight at once, comma-separated")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of one heartbeat measurement")
	f.DurationVar(&cfg.Steady, "steady", cfg.Steady, "length of the memory run at a heartbeat a second (10 s timeout), and of today's baseline")
	f.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "measurements of each system at each size, taken in turn")
	f.IntVar(&cfg.FailoverTrials, "failover-trials", cfg.FailoverTrials, "trials of each way of losing a master")
	f.IntVar(&cfg.Pollers, "pollers", cfg.Pollers, "long polls of the fan-out")
	f.StringSliceVar(&cfg.Phases, "phases", nil, "phases to run, comma-separated, of "+strings.Join(bench.Phases, ", ")+
		" (default all); the report's sections of the others are kept from the --out file")
	f.StringVar(&cfg.Brokersim, "brokersim", "", "the brokersim binary, whose processes the failovers of real brokers kill (default: brokersim beside this binary, or on PATH; none: those rows are skipped)")
	f.IntVar(&cfg.Masterless, "masterless", cfg.Masterless, "master-less or paused groups present during the failover trials that measure their effect; 0: none")
	f.IntVar(&cfg.RocketMQBrokers, "rocketmq-brokers", cfg.RocketMQBrokers, "RocketMQ-protocol brokers of the RocketMQ heartbeat comparison (for --steady each)")
	f.IntVar(&cfg.RocketMQTrials, "rocketmq-trials", cfg.RocketMQTrials, "trials of each way of losing a RocketMQ-protocol master, at each of 2 s and 10 s timeouts")
	f.StringVar(&cfg.Out, "out", cfg.Out, "Markdown report to write; empty: none")
	f.StringVar(&cfg.Micro, "micro", "", "file of go test -bench output to include in the report")
	return cmd
}

// benchCommand is the command line that reproduces the run: the flags that
// were set, but for --micro, whose file is a temporary one.
func benchCommand(cmd *cobra.Command) string {
	args := []string{"ledgerless", "bench"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "micro" {
			args = append(args, "--"+f.Name+"="+strings.Trim(f.Value.String(), "[]"))
		}
	})
	return strings.Join(args, " ")
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}
