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
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/ledgerless/ledgerless/brokersim"
	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/cmd/internal/settings"
	"github.com/ledgerless/ledgerless/tracing/provider"
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

const defaultController = "http://127.0.0.1:9878"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() { version = settings.Version(version) }

// bind makes cmd's flags readable through v from BROKERSIM_* environment
// variables too (--heartbeat-timeout is BROKERSIM_HEARTBEAT_TIMEOUT);
// flags win.
func bind(cmd *cobra.Command, v *viper.Viper) *viper.Viper {
	settings.Env(v, "BROKERSIM")
	_ = v.BindPFlags(cmd.Flags())
	return v
}

func serveCommand() *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a simulated broker",
		Long: `Run a simulated broker of group --group: it registers with the controller,
heartbeats, and as master takes writes (POST /produce) that it acknowledges
once every SyncStateSet member has them; as slave it replicates from the
master. GET /status and GET /log show its state. SIGTERM resigns the
broker's lease (a master is replaced at once) and stops it.

To a controller that authenticates its callers, the broker shows the token
in --token-file (read again when refused, so a rotated token needs no
restart). For https controllers of a private CA, --controller-ca-file
trusts their CA, and --controller-cert-file with --controller-key-file is
the broker's client certificate.

Every call to the controller is a client span (broker.heartbeat,
broker.register, broker.poll, broker.alter, broker.resign) whose trace
context the request carries, so that a controller with tracing on
continues the trace: --tracing-exporter, --tracing-protocol,
--tracing-endpoint and --tracing-sample-ratio are ledgerless serve's.

With --protocol rocketmq the broker speaks RocketMQ's remoting protocol to
its controllers, as a stock RocketMQ 5.1.1+ broker in controller mode does
(ReplicasManager): --controller lists host:port addresses, the broker keeps
its id in <data-dir>/brokerIdentity, starts up by 1005, 1012, 1013 and 1003
(1002 when no master is known), sends oneway heartbeats (904) to every
controller, polls 1004, reports SyncStateSet changes (1001), and its
--listen port takes the controller's NOTIFY (1008) besides HTTP.
--broker-conf reads a stock broker.conf, whose RocketMQ settings
(controllerAddr, brokerClusterName, brokerName, listenPort, brokerIP1,
storePathRootDir, brokerHeartbeatInterval, controllerHeartBeatTimeoutMills,
syncBrokerMetadataPeriod, syncControllerMetadataPeriod,
checkSyncStateSetPeriod, haMaxTimeSlaveNotCatchup, brokerElectionPriority)
replace what the flags say; it implies --protocol rocketmq.

Every flag can be given as a BROKERSIM_* environment variable
(BROKERSIM_TRACING_EXPORTER for --tracing-exporter).`,
		Example: `  go run ./cmd/ledgerless serve &
  brokersim serve --group broker-a --listen 127.0.0.1:10911 --data-dir /tmp/a
  brokersim serve --group broker-a --listen 127.0.0.1:10921 --data-dir /tmp/b

  # a stock broker's controller client, settings from a broker.conf
  brokersim serve --protocol rocketmq --broker-conf broker-a-n0.conf

  # over TLS with a client certificate and a token, spans to a collector
  brokersim serve --controller https://ctl-1:9878 --controller-ca-file ca.pem \
    --controller-cert-file broker-a.pem --controller-key-file broker-a-key.pem \
    --token-file broker.token --tracing-exporter otlp --tracing-endpoint http://collector:4317`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("protocol", brokersim.ProtocolREST, "protocol to the controller: rest, or rocketmq (a stock broker's remoting protocol)")
	f.StringP("broker-conf", "c", "", "a stock broker.conf (Java properties) whose RocketMQ settings replace the flags'; implies --protocol rocketmq")
	f.String("listen", "127.0.0.1:10911", "HTTP address of the broker")
	f.String("advertise", "", "address registered with the controller (default: --listen)")
	f.StringSlice("controller", []string{defaultController}, "controller base URLs, comma-separated (host:port with --protocol rocketmq; default 127.0.0.1:9878)")
	f.String("cluster", "DefaultCluster", "cluster name")
	f.String("group", "broker-a", "group (broker name)")
	f.String("token-file", "", "file holding the token that authenticates the broker to the controller")
	f.String("controller-ca-file", "", "CA bundle verifying the controllers' certificates (default: the system's roots)")
	f.String("controller-cert-file", "", "client certificate for controllers that verify client certificates")
	f.String("controller-key-file", "", "key of --controller-cert-file")
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
	settings.TracingFlags(f, v, provider.Defaults())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		bind(cmd, v)
		log, err := settings.Logger(os.Stderr, v.GetString("log-level"), v.GetString("log-format"))
		if err != nil {
			return err
		}
		cfg := brokersim.Config{Listen: v.GetString("listen"), Advertise: v.GetString("advertise"),
			Controllers: settings.List(v.GetStringSlice("controller")), Cluster: v.GetString("cluster"), Group: v.GetString("group"),
			DataDir: v.GetString("data-dir"), Fsync: v.GetBool("fsync"),
			HeartbeatInterval: v.GetDuration("heartbeat-interval"), HeartbeatTimeout: v.GetDuration("heartbeat-timeout"),
			ElectionPriority: v.GetInt64("election-priority"), LagMax: v.GetDuration("lag-max"),
			AckTimeout: v.GetDuration("ack-timeout"), LeaseFencing: v.GetBool("lease-fencing"),
			ShutdownTimeout: v.GetDuration("shutdown-timeout"), TokenFile: v.GetString("token-file"),
			TLS: client.TLS{CAFile: v.GetString("controller-ca-file"), CertFile: v.GetString("controller-cert-file"),
				KeyFile: v.GetString("controller-key-file")}, Logger: log, Protocol: v.GetString("protocol")}
		if slices.Equal(cfg.Controllers, []string{defaultController}) && cfg.Protocol == brokersim.ProtocolRocketMQ {
			cfg.Controllers = []string{"127.0.0.1:9878"}
		}
		if conf := v.GetString("broker-conf"); conf != "" {
			if cfg.Protocol != brokersim.ProtocolRocketMQ && cmd.Flags().Changed("protocol") {
				return fmt.Errorf("--broker-conf is a stock broker's configuration; it wants --protocol rocketmq, not %s", cfg.Protocol)
			}
			if err := brokersim.ReadBrokerConf(conf, &cfg); err != nil {
				return err
			}
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		tracing := settings.Tracing(v, os.Stdout)
		if err := tracing.Validate(); err != nil {
			return err
		}
		tp, flush, err := provider.New(cmd.Context(), tracing,
			provider.Service{Name: "brokersim", Version: version, Instance: cfg.Advertise})
		if err != nil {
			return err
		}
		defer provider.Flush(cmd.Context(), flush, cfg.ShutdownTimeout, log)
		provider.LogErrors(log)
		cfg.TracerProvider = tp
		b, err := brokersim.New(cfg)
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
		v := bind(cmd, viper.New())
		acks := os.Stdout
		if path := v.GetString("acks"); path != "-" {
			var err error
			if acks, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
				return err
			}
			defer acks.Close()
		}
		log, err := settings.Logger(os.Stderr, "info", "text")
		if err != nil {
			return err
		}
		stats, err := brokersim.Produce(cmd.Context(), brokersim.ProducerConfig{Brokers: settings.List(v.GetStringSlice("brokers")),
			Prefix: v.GetString("prefix"), Count: v.GetInt64("count"), Interval: v.GetDuration("interval"),
			Timeout: v.GetDuration("timeout"), Acks: acks, Logger: log})
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
		v := bind(cmd, viper.New())
		ctx, cancel := context.WithTimeout(cmd.Context(), v.GetDuration("timeout"))
		defer cancel()
		s, err := brokersim.ReadStatus(ctx, http.DefaultClient, v.GetString("addr"))
		if err != nil {
			return fmt.Errorf("broker %s is not healthy: %w", v.GetString("addr"), err)
		}
		fmt.Printf("broker %d: %s at masterEpoch %d, maxOffset %d\n", s.BrokerID, brokersim.RoleName(s.Role), s.MasterEpoch, s.MaxOffset)
		return nil
	}
	return cmd
}
