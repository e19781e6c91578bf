package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/cmd/internal/settings"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/tracing/provider"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "ledgerless",
		Short: "Failover controller for master/slave broker groups, with all state in etcd",
		Long: `ledgerless elects and fences the masters of RocketMQ-style broker groups.
Controller replicas are stateless: state lives in etcd (external, or embedded
in the controller), broker liveness is an etcd lease per broker, and every
master change is one epoch-bumping etcd transaction.

ledgerless serve runs a controller replica; the other commands operate
one through its REST API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(newServe(), newToken(), newBench(), newSnapshot(), newImport())
	cli.Register(root, cli.Options{Version: version})
	return root
}

func newServe() *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a controller replica",
		Long: `Run a controller replica serving the REST API, a web dashboard of the
broker groups at /ui/ (see docs/dashboard.md) and, on the same port,
RocketMQ's remoting protocol: stock RocketMQ 5.1.1+ brokers in controller
mode and mqadmin use a replica as their controller when their
controllerAddr lists the replicas' --listen addresses (see docs/rocketmq.md).
Every replica answers every request, and reports itself as the leader at
--remoting-advertise, which must be an address brokers can reach.

With no --etcd-endpoints, the replica starts an embedded etcd member in
--data-dir (a single member by default; give --embedded-initial-cluster to
let several replicas form one etcd cluster). With --etcd-endpoints it uses
that etcd cluster and keeps no state of its own.

Configuration comes from flags, then LEDGERLESS_* environment variables
(LEDGERLESS_ETCD_ENDPOINTS for --etcd-endpoints), then the YAML file given
by --config (keys are the flag names), then the defaults shown here.

Tracing (OpenTelemetry): --tracing-exporter none (default) exports no spans;
stdout prints one JSON object per span on standard output (logs go to
standard error); otlp sends them to a collector (Jaeger, Tempo, the
OpenTelemetry Collector) over --tracing-protocol grpc (port 4317) or
http/protobuf (port 4318) at --tracing-endpoint, or where the standard
OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_* variables say.
--tracing-sample-ratio records that share of API request traces; a request
that carries a W3C traceparent follows its caller's sampling decision, and
automatic elections and lost leases are always recorded. In the
environment these are LEDGERLESS_TRACING_EXPORTER, LEDGERLESS_TRACING_PROTOCOL,
LEDGERLESS_TRACING_ENDPOINT and LEDGERLESS_TRACING_SAMPLE_RATIO; in the
YAML file, keys exporter, protocol, endpoint and sample-ratio of a
tracing: section. Prometheus metrics are on /metrics whatever the tracing.`,
		Example: `  # one replica with an embedded etcd in ./ledgerless.data
  ledgerless serve

  # a second replica using the first one's embedded etcd
  ledgerless serve --listen :9978 --replica-id r2 --etcd-endpoints http://127.0.0.1:9879

  # print every span on standard output
  LEDGERLESS_TRACING_EXPORTER=stdout ledgerless serve

  # send spans to a collector's OTLP/gRPC port, one trace in ten
  ledgerless serve --tracing-exporter otlp --tracing-endpoint http://collector:4317 --tracing-sample-ratio 0.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := serveConfig(v, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			provider.LogErrors(cfg.Logger)
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			cfg.Reload = hup
			return server.Run(cmd.Context(), cfg)
		},
	}
	d := server.Defaults()
	f := cmd.Flags()
	f.String("config", "", "YAML configuration file")
	f.String("listen", d.Listen, "listen address of the REST API and, unless --remoting-listen says otherwise, of RocketMQ's remoting protocol")
	f.String("remoting-listen", "", "RocketMQ remoting protocol (stock brokers, mqadmin): empty shares the --listen port, off turns it off, host:port gives it a port of its own")
	f.String("remoting-advertise", "", "host:port brokers reach this replica's remoting protocol at, reported to them as the controller leader (default <replica-id>:<remoting port>)")
	f.String("advertise-url", "", "URL other replicas and operators reach this replica at (default http://<replica-id>:<listen port>)")
	f.String("data-dir", d.DataDir, "directory of the embedded etcd's data")
	f.String("replica-id", d.ReplicaID, "this replica's name, unique among replicas: this host's name unless given")
	f.StringSlice("etcd-endpoints", nil, "external etcd client URLs, comma-separated; none: run an embedded etcd")
	f.Duration("etcd-dial-timeout", d.Etcd.DialTimeout, "timeout to connect to etcd")
	f.String("etcd-username", "", "etcd user name")
	f.String("etcd-password", "", "etcd password (prefer LEDGERLESS_ETCD_PASSWORD)")
	f.String("etcd-ca-file", "", "CA bundle verifying etcd's servers; enables TLS")
	f.String("etcd-cert-file", "", "client certificate for etcd")
	f.String("etcd-key-file", "", "client key for etcd")
	f.String("etcd-prefix", d.Etcd.Prefix, "prefix of every key ledgerless writes")
	f.String("embedded-name", "", "embedded etcd member name (default: the replica id)")
	f.String("embedded-client-url", d.Embedded.ClientURL, "embedded etcd client URL, advertised (and listened on unless --embedded-listen-client-url)")
	f.String("embedded-peer-url", d.Embedded.PeerURL, "embedded etcd peer URL, advertised (and listened on unless --embedded-listen-peer-url)")
	f.String("embedded-listen-client-url", "", "embedded etcd client URL to bind, when the advertised one names a host (etcd binds IPs only), e.g. http://0.0.0.0:2379")
	f.String("embedded-listen-peer-url", "", "embedded etcd peer URL to bind, e.g. http://0.0.0.0:2380")
	f.Duration("embedded-compaction-retention", d.Embedded.CompactionRetention, "history period of the embedded etcd: every period it compacts to the revision of one period earlier")
	f.Bool("embedded-no-defrag", false, "do not defragment the embedded etcd's database after compactions that freed at least half of it")
	f.String("embedded-log-level", "warn", "lowest level of the embedded etcd's own lines, logged with the replica's (component=etcd): debug, info, warn, error; --log-level debug makes it info unless given")
	f.String("embedded-initial-cluster", "", "embedded etcd initial cluster, name=peerURL,... (default: this member alone)")
	f.Duration("shutdown-timeout", d.ShutdownTimeout, "longest graceful shutdown before giving up")
	f.String("log-level", "info", "log level: debug, info, warn, error")
	f.String("log-format", "text", "log format: text or json")
	securityFlags(f, d)
	_ = v.BindPFlags(f)
	settings.TracingFlags(f, v, d.Tracing)
	return cmd
}

// serveConfig reads flags, environment and file, in falling precedence,
// into a server.Config.
func serveConfig(v *viper.Viper, stdout, stderr io.Writer) (server.Config, error) {
	settings.Env(v, "LEDGERLESS")
	if file := v.GetString("config"); file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return server.Config{}, fmt.Errorf("config file: %w", err)
		}
	}
	log, err := settings.Logger(stderr, v.GetString("log-level"), v.GetString("log-format"))
	if err != nil {
		return server.Config{}, err
	}
	cfg := server.Defaults()
	cfg.Version = version
	cfg.Logger = log
	cfg.Listen = v.GetString("listen")
	cfg.AdvertiseURL = v.GetString("advertise-url")
	cfg.Remoting = server.Remoting{Listen: v.GetString("remoting-listen"), Advertise: v.GetString("remoting-advertise")}
	cfg.DataDir = v.GetString("data-dir")
	cfg.ReplicaID = v.GetString("replica-id")
	cfg.Etcd.Endpoints = settings.List(v.GetStringSlice("etcd-endpoints"))
	cfg.Etcd.DialTimeout = v.GetDuration("etcd-dial-timeout")
	cfg.Etcd.Username = v.GetString("etcd-username")
	cfg.Etcd.Password = v.GetString("etcd-password")
	cfg.Etcd.CAFile = v.GetString("etcd-ca-file")
	cfg.Etcd.CertFile = v.GetString("etcd-cert-file")
	cfg.Etcd.KeyFile = v.GetString("etcd-key-file")
	cfg.Etcd.Prefix = v.GetString("etcd-prefix")
	cfg.Embedded.Name = v.GetString("embedded-name")
	cfg.Embedded.ClientURL = v.GetString("embedded-client-url")
	cfg.Embedded.PeerURL = v.GetString("embedded-peer-url")
	cfg.Embedded.ListenClientURL = v.GetString("embedded-listen-client-url")
	cfg.Embedded.ListenPeerURL = v.GetString("embedded-listen-peer-url")
	cfg.Embedded.CompactionRetention = v.GetDuration("embedded-compaction-retention")
	cfg.Embedded.NoDefrag = v.GetBool("embedded-no-defrag")
	cfg.Embedded.InitialCluster = v.GetString("embedded-initial-cluster")
	cfg.ShutdownTimeout = v.GetDuration("shutdown-timeout")
	cfg.Tracing = settings.Tracing(v, stdout)
	securityConfig(v, &cfg)
	cfg.Embedded.LogLevel = v.GetString("embedded-log-level")
	if v.GetString("log-level") == "debug" && !v.IsSet("embedded-log-level") {
		cfg.Embedded.LogLevel = "info"
	}
	return cfg, cfg.Validate()
}
