package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.etcd.io/etcd/pkg/v3/flags"
	"go.etcd.io/etcd/server/v3/config"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/ledgerless/ledgerless/internal/etcdstop"
)

// serve runs an etcd member as etcdmain.Main would: etcd's own flags
// (embed.Config.AddFlags), ETCD_* environment variables or a
// --config-file, read the way etcdmain reads them. What differs is the
// stop: on SIGINT or SIGTERM it ends its clients' watch and keep-alive
// streams before closing (internal/etcdstop), so that it stops in
// milliseconds instead of waiting etcd's request timeout (7 s) for
// streams that never end while ledgerless replicas are connected; and it
// exits 0 after a clean stop. It returns the exit code.
func serve(args []string) int {
	ec, err := parseConfig(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		return 2
	}
	streams := etcdstop.New()
	ec.GRPCAdditionalServerOptions = append(ec.GRPCAdditionalServerOptions, streams.ServerOptions()...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := embed.StartEtcd(ec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd: start:", err)
		return 1
	}
	lg := e.GetLogger()
	defer func() {
		streams.Stop()
		start := time.Now()
		e.Close()
		lg.Info("stopped", zap.Duration("took", time.Since(start)))
		_ = lg.Sync()
	}()
	select {
	case <-e.Server.ReadyNotify():
	case <-e.Server.StopNotify():
		lg.Error("stopped before it was ready")
		return 1
	case <-ctx.Done():
		return 0
	}
	select {
	case <-ctx.Done():
		lg.Info("signal received, stopping")
		return 0
	case err := <-e.Err():
		lg.Error("etcd failed", zap.Error(err))
		return 1
	case <-e.Server.StopNotify():
		lg.Error("etcd server stopped")
		return 1
	}
}

// parseConfig reads etcd's configuration from args and the environment,
// or from the file of --config-file (ETCD_CONFIG_FILE), as etcdmain does.
func parseConfig(args []string) (*embed.Config, error) {
	ec := embed.NewConfig()
	defaultInitialCluster := ec.InitialCluster
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	ec.AddFlags(fs)
	configFile := fs.String("config-file", "", "path to the server configuration file; other flags and environment variables are then ignored")
	clusterState := flags.NewSelectiveStringValue(embed.ClusterStateFlagNew, embed.ClusterStateFlagExisting)
	fs.Var(clusterState, "initial-cluster-state", "initial cluster state ('new' or 'existing')")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("%q is not a valid flag", fs.Arg(0))
	}
	if *configFile == "" {
		*configFile = os.Getenv(flags.FlagToEnv("ETCD", "config-file"))
	}
	if *configFile != "" {
		fc, err := embed.ConfigFromFile(*configFile)
		if err != nil {
			return nil, err
		}
		ec = fc
	} else {
		lg, err := logutil.CreateDefaultZapLogger(zap.InfoLevel)
		if err != nil {
			return nil, err
		}
		if err := flags.SetFlagsFromEnv(lg, "ETCD", fs); err != nil {
			return nil, err
		}
		// As etcdmain's configFromCmdLine: flags whose values the flag
		// set holds rather than the config.
		ec.ListenPeerUrls = flags.UniqueURLsFromFlag(fs, "listen-peer-urls")
		ec.AdvertisePeerUrls = flags.UniqueURLsFromFlag(fs, "initial-advertise-peer-urls")
		ec.ListenClientUrls = flags.UniqueURLsFromFlag(fs, "listen-client-urls")
		ec.ListenClientHttpUrls = flags.UniqueURLsFromFlag(fs, "listen-client-http-urls")
		ec.AdvertiseClientUrls = flags.UniqueURLsFromFlag(fs, "advertise-client-urls")
		ec.ListenMetricsUrls = flags.UniqueURLsFromFlag(fs, "listen-metrics-urls")
		ec.DiscoveryCfg.Endpoints = flags.UniqueStringsFromFlag(fs, "discovery-endpoints")
		ec.CORS = flags.UniqueURLsMapFromFlag(fs, "cors")
		ec.HostWhitelist = flags.UniqueStringsMapFromFlag(fs, "host-whitelist")
		ec.ClientTLSInfo.AllowedHostnames = flags.StringsFromFlag(fs, "client-cert-allowed-hostname")
		ec.PeerTLSInfo.AllowedCNs = flags.StringsFromFlag(fs, "peer-cert-allowed-cn")
		ec.PeerTLSInfo.AllowedHostnames = flags.StringsFromFlag(fs, "peer-cert-allowed-hostname")
		ec.CipherSuites = flags.StringsFromFlag(fs, "cipher-suites")
		ec.MaxConcurrentStreams = flags.Uint32FromFlag(fs, "max-concurrent-streams")
		ec.LogOutputs = flags.UniqueStringsFromFlag(fs, "log-outputs")
		ec.ClusterState = clusterState.String()
		if flags.IsSet(fs, "listen-client-urls") && !flags.IsSet(fs, "advertise-client-urls") {
			ec.AdvertiseClientUrls = nil
		}
		if (ec.DNSCluster != "" || ec.DNSClusterServiceName != "" || len(ec.DiscoveryCfg.Endpoints) > 0) && !flags.IsSet(fs, "initial-cluster") {
			ec.InitialCluster = ""
		}
		fs.Visit(func(f *flag.Flag) { ec.FlagsExplicitlySet[f.Name] = true })
	}
	ec.V2Deprecation = config.V2DeprDefault
	if ec.WarningUnaryRequestDuration == 0 {
		ec.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	}
	if err := ec.Validate(); err != nil {
		return nil, err
	}
	if _, err := ec.UpdateDefaultClusterFromName(defaultInitialCluster); err != nil {
		ec.GetLogger().Info("no default host for advertise", zap.Error(err))
	}
	if ec.Dir == "" {
		ec.Dir = ec.Name + ".etcd"
	}
	return ec, nil
}
