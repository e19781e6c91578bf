// Command brokersim is a simulated RocketMQ broker for trying and testing
// ledgerless: `brokersim serve` runs a broker that replicates a message
// log and fails over through a ledgerless controller, `brokersim produce`
// sends numbered messages to whichever broker is master and records the
// acknowledged ones, `brokersim health` checks a broker (for container
// health checks).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/ledgerless/ledgerless/brokersim"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "brokersim",
		Short:         "A simulated RocketMQ broker that fails over through a ledgerless controller",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), produceCommand(), healthCommand())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	return 0
}

// bind makes cmd's flags readable from BROKERSIM_* environment variables
// too (--heartbeat-timeout is BROKERSIM_HEARTBEAT_TIMEOUT); flags win.
func bind(cmd *cobra.Command) *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("BROKERSIM")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	_ = v.BindPFlags(cmd.Flags())
	return v
}

func serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a simulated broker",
		Long: `Run a simulated broker of group --group: it registers with the controller,
heartbeats, and as master takes writes (POST /produce) that it acknowledges
once every SyncStateSet member has them; as slave it replicates from the
master. GET /status and GET /log show its state. SIGTERM resigns the
broker's lease (a master is replaced at once) and stops it.

Every flag can be given as a BROKERSIM_* environment variable.`,
		Example: `  go run ./cmd/ledgerless serve &
  brokersim serve --group broker-a --listen 127.0.0.1:10911 --data-dir /tmp/a
  brokersim serve --group broker-a --listen 127.0.0.1:10921 --data-dir /tmp/b`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("listen", "127.0.0.1:10911", "HTTP address of the broker")
	f.String("advertise", "", "address registered with the controller (default: --listen)")
	f.StringSlice("controller", []string{"http://127.0.0.1:9878"}, "controller base URLs, comma-separated")
	f.String("cluster", "DefaultCluster", "cluster name")
	f.String("group", "broker-a", "group (broker name)")
	f.String("token-file", "", "file holding the token that authenticates the broker to the controller")
	f.String("data-dir", "", "directory of the log and identity files (default: in memory, a new broker on every start)")
	f.Bool("fsync", false, "sync every append to disk")
	f.Duration("heartbeat-interval", time.Second, "time between heartbeats")
	f.Duration("heartbeat-timeout", 10*time.Second, "how long the controller keeps the broker alive without a heartbeat")
	f.Int64("election-priority", 0, "election priority: lower is preferred")
	f.Duration("lag-max", brokersim.DefaultLagMax, "a SyncStateSet member that has not caught up for this long leaves the set")
	f.Duration("ack-timeout", brokersim.DefaultAckTimeout, "how long a write waits for the SyncStateSet")
	f.Bool("lease-fencing", false, "as master, refuse writes once the controller may consider the broker dead")
	f.Duration("shutdown-timeout", brokersim.DefaultShutdownTimeout, "longest graceful shutdown")
	f.String("log-level", "info", "log level: debug, info, warn, error")
	f.String("log-format", "text", "log format: text or json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := bind(cmd)
		log, err := newLogger(v.GetString("log-level"), v.GetString("log-format"))
		if err != nil {
			return err
		}
		var token []byte
		if path := v.GetString("token-file"); path != "" {
			if token, err = os.ReadFile(path); err != nil {
				return fmt.Errorf("token file: %w", err)
			}
		}
		b, err := brokersim.New(brokersim.Config{Listen: v.GetString("listen"), Advertise: v.GetString("advertise"),
			Controllers: list(v.GetStringSlice("controller")), Cluster: v.GetString("cluster"), Group: v.GetString("group"),
			DataDir: v.GetString("data-dir"), Fsync: v.GetBool("fsync"),
			HeartbeatInterval: v.GetDuration("heartbeat-interval"), HeartbeatTimeout: v.GetDuration("heartbeat-timeout"),
			ElectionPriority: v.GetInt64("election-priority"), LagMax: v.GetDuration("lag-max"),
			AckTimeout: v.GetDuration("ack-timeout"), LeaseFencing: v.GetBool("lease-fencing"),
			ShutdownTimeout: v.GetDuration("shutdown-timeout"), Token: strings.TrimSpace(string(token)), Logger: log})
		if err != nil {
			return err
		}
		return b.Run(cmd.Context())
	}
	return cmd
}

func produceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Send numbered messages to whichever broker of a group is master",
		Long: `Send messages <prefix>1, <prefix>2, ... to whichever of --brokers is master,
each until it is acknowledged, and write every acknowledgement to --acks
as a JSON line: {"n","payload","broker","brokerId","epoch","offset","time"}.
Runs until --count messages are acknowledged, or until interrupted.`,
		Example: `  brokersim produce --brokers 127.0.0.1:10911,127.0.0.1:10921 --acks acks.jsonl`,
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringSlice("brokers", nil, "addresses of the group's brokers, comma-separated")
	f.String("prefix", "m-", "payload prefix")
	f.Int64("count", 0, "messages to send (0: until interrupted)")
	f.Duration("interval", 20*time.Millisecond, "pause after each acknowledged message")
	f.Duration("timeout", 3*time.Second, "time limit of one produce request")
	f.String("acks", "-", "file the acknowledgements are appended to (-: stdout)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := bind(cmd)
		acks := os.Stdout
		if path := v.GetString("acks"); path != "-" {
			var err error
			if acks, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
				return err
			}
			defer acks.Close()
		}
		stats, err := brokersim.Produce(cmd.Context(), brokersim.ProducerConfig{Brokers: list(v.GetStringSlice("brokers")),
			Prefix: v.GetString("prefix"), Count: v.GetInt64("count"), Interval: v.GetDuration("interval"),
			Timeout: v.GetDuration("timeout"), Acks: acks, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		fmt.Fprintf(os.Stderr, "acknowledged %d messages in %d attempts\n", stats.Acked, stats.Attempts)
		return err
	}
	return cmd
}

func healthCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that a broker answers (for container health checks)",
		Long:  "Read the broker's GET /status; exit status 0 when it answers, 1 otherwise.",
		Example: `  healthcheck:
    test: ["CMD", "brokersim", "health", "--addr", "127.0.0.1:10911"]`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("addr", "127.0.0.1:10911", "address of the broker")
	f.Duration("timeout", 3*time.Second, "time limit")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := bind(cmd)
		ctx, cancel := context.WithTimeout(cmd.Context(), v.GetDuration("timeout"))
		defer cancel()
		s, err := brokersim.ReadStatus(ctx, http.DefaultClient, v.GetString("addr"))
		if err != nil {
			return fmt.Errorf("broker %s is not healthy: %w", v.GetString("addr"), err)
		}
		fmt.Printf("broker %d: %s at masterEpoch %d, maxOffset %d\n", s.BrokerID, role(s), s.MasterEpoch, s.MaxOffset)
		return nil
	}
	return cmd
}

func role(s brokersim.Status) string {
	if s.Role == "" {
		return "unassigned"
	}
	return string(s.Role)
}

// list splits comma-separated items, as environment variables give them.
func list(items []string) []string {
	var out []string
	for _, item := range items {
		for _, s := range strings.Split(item, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: want text or json", format)
}
