// Package server runs one ledgerless controller replica: it owns the
// replica's configuration, wires etcd (embedded or external), the service
// and the HTTP API together, and runs them until shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/metrics"
	"github.com/ledgerless/ledgerless/remoting"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/tracing"
	"github.com/ledgerless/ledgerless/tracing/provider"
	"github.com/ledgerless/ledgerless/ui"
)

// Config is a replica's configuration. Zero fields take the defaults that
// Defaults documents.
type Config struct {
	Listen       string // HTTP listen address
	AdvertiseURL string // how other replicas and operators reach this one
	DataDir      string // embedded etcd's data lives below it
	ReplicaID    string
	Version      string

	Etcd     store.ClientConfig // no endpoints: run an embedded etcd
	Embedded store.EmbeddedConfig

	Tracing provider.Config
	// TracerProvider, when set, records the replica's spans instead of
	// the provider Tracing describes; its owner shuts it down.
	TracerProvider trace.TracerProvider

	ShutdownTimeout time.Duration
	Reconcile       time.Duration // election safety-net period
	Logger          *slog.Logger

	// Remoting says where RocketMQ's remoting protocol is served.
	Remoting Remoting

	TLS      TLS
	AuthFile string // the credentials file; empty: no authentication
	Limits   Limits
	// Reload: every value received rereads AuthFile and the TLS files;
	// serve delivers SIGHUP here.
	Reload <-chan os.Signal
}

// Defaults returns the configuration used when nothing is set: listen on
// :9878, run a single-member embedded etcd in ./ledgerless.data with
// clients on 127.0.0.1:9879 and peers on 127.0.0.1:9880, and export no
// spans.
func Defaults() Config {
	host, _ := os.Hostname()
	return Config{
		Listen:    "127.0.0.1:9878",
		DataDir:   "ledgerless.data",
		ReplicaID: host,
		Version:   "dev",
		Etcd:      store.ClientConfig{DialTimeout: 5 * time.Second, Prefix: store.DefaultPrefix},
		Embedded: store.EmbeddedConfig{ClientURL: "http://127.0.0.1:9879", PeerURL: "http://127.0.0.1:9880",
			CompactionRetention: store.DefaultCompactionRetention,
			StartTimeout:        time.Minute},
		Tracing:         provider.Defaults(),
		ShutdownTimeout: 10 * time.Second,
		Reconcile:       time.Second,
		Limits:          DefaultLimits(),
	}
}

// Validate checks c and fills in what derives from other fields.
func (c *Config) Validate() error {
	if c.ReplicaID == "" {
		return errors.New("replica-id is required (it defaults to the host name)")
	}
	if err := ledgerless.ValidateName("replica", c.ReplicaID); err != nil {
		return fmt.Errorf("replica-id: %s", strings.TrimPrefix(err.Error(), ledgerless.ErrInvalidRequest.Error()+": "))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return fmt.Errorf("listen %q: want host:port or :port", c.Listen)
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	if err := c.Remoting.validate(c.Listen, c.ReplicaID); err != nil {
		return err
	}
	if c.AdvertiseURL == "" {
		_, port, _ := net.SplitHostPort(c.Listen)
		scheme := "http://"
		if c.TLS.CertFile != "" {
			scheme = "https://"
		}
		c.AdvertiseURL = scheme + net.JoinHostPort(c.ReplicaID, port)
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("shutdown-timeout must be positive")
	}
	if err := c.Tracing.Validate(); err != nil {
		return err
	}
	if !strings.HasPrefix(c.Etcd.Prefix, "/") || !strings.HasSuffix(c.Etcd.Prefix, "/") {
		return fmt.Errorf("etcd-prefix %q must start and end with /", c.Etcd.Prefix)
	}
	if len(c.Etcd.Endpoints) > 0 {
		return nil
	}
	for _, u := range []struct {
		name, url string
		optional  bool // empty: the advertised URL is listened on
	}{
		{"embedded-client-url", c.Embedded.ClientURL, false}, {"embedded-peer-url", c.Embedded.PeerURL, false},
		{"embedded-listen-client-url", c.Embedded.ListenClientURL, true}, {"embedded-listen-peer-url", c.Embedded.ListenPeerURL, true},
	} {
		if u.url == "" && u.optional {
			continue
		}
		if p, err := url.Parse(u.url); err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return fmt.Errorf("%s %q: want http://host:port", u.name, u.url)
		}
	}
	if c.Embedded.CompactionRetention < 0 {
		return errors.New("embedded-compaction-retention must not be negative")
	}
	if c.DataDir == "" {
		return errors.New("data-dir is required for the embedded etcd")
	}
	if err := c.validateEmbeddedTLS(); err != nil {
		return err
	}
	if c.Embedded.Name == "" {
		c.Embedded.Name = c.ReplicaID
	}
	c.Embedded.DataDir = c.DataDir
	return nil
}

// Run runs the replica until ctx ends, then shuts down within
// ShutdownTimeout: long polls answer at once, HTTP drains, the replica's
// presence lease is revoked, the spans not yet exported are flushed (again
// within ShutdownTimeout), and the embedded etcd (if any) stops last.
// It returns the first failure of any part, or nil after a clean shutdown.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = slog.New(tracing.LogHandler(log.Handler()))
	sec, err := loadSecurity(cfg, log)
	if err != nil {
		return err
	}
	tp, shutdownTracing := cfg.TracerProvider, func(context.Context) error { return nil }
	if tp == nil {
		tp, shutdownTracing, err = provider.New(ctx, cfg.Tracing,
			provider.Service{Name: "ledgerless", Version: cfg.Version, Instance: cfg.ReplicaID})
		if err != nil {
			return err
		}
	}
	defer provider.Flush(ctx, shutdownTracing, cfg.ShutdownTimeout, log)
	m := metrics.New()
	g, gctx := errgroup.WithContext(ctx)

	etcdCfg := cfg.Etcd
	open := store.Open
	if len(etcdCfg.Endpoints) == 0 {
		log.Info("starting embedded etcd", "dataDir", cfg.DataDir, "name", cfg.Embedded.Name,
			"clientURL", cfg.Embedded.ClientURL, "peerURL", cfg.Embedded.PeerURL)
		ecfg := cfg.Embedded
		ecfg.Logger = log
		emb, err := store.StartEmbedded(ecfg)
		if err != nil {
			return err
		}
		defer emb.Close()
		etcdCfg.Endpoints = emb.Endpoints()
		g.Go(func() error { return emb.Run(gctx) })
		open = emb.Open
	}
	etcdCfg.TracerProvider, etcdCfg.Observer = tp, m
	st, err := open(etcdCfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(cfg.Etcd.Endpoints) == 0 {
		if err := applyRestoreFence(ctx, st, cfg, log); err != nil {
			return err
		}
	}

	svc := service.New(service.Options{Store: st, ReplicaID: cfg.ReplicaID, Logger: log,
		Reconcile: cfg.Reconcile, Embedded: len(cfg.Etcd.Endpoints) == 0, TracerProvider: tp, Observer: m,
		MaxLongPolls: cfg.Limits.MaxLongPolls, MaxBrokersPerGroup: cfg.Limits.MaxBrokersPerGroup, Crashes: m})
	m.LongPolls(svc.Hub().Waiters)
	m.LongPollLimit(cfg.Limits.MaxLongPolls)
	m.EtcdConnected(svc.Hub().ConnectedFor)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ropts := remoting.Options{Service: svc, ReplicaID: cfg.ReplicaID, Address: cfg.Remoting.Advertise,
		Logger: log, TracerProvider: tp, Observer: m}
	if sec.auth != nil {
		ropts.Auth = remoting.ACL{Auth: sec.auth}
	}
	rsrv := remoting.NewServer(ropts)
	srv := &http.Server{
		Handler:           withTLSState(ui.Mount(handlers.New(svc, log, m, tp, sec.handlerOptions()...))),
		ConnContext:       connContext,
		ReadHeaderTimeout: min(10*time.Second, cfg.Limits.ReadTimeout),
		ReadTimeout:       cfg.Limits.ReadTimeout,
		WriteTimeout:      service.MaxWait + 30*time.Second, // long polls
		IdleTimeout:       cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
		TLSConfig:         sec.serverConfig(),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveHTTP, serveRemoting, err := listeners(cfg, ln, srv, rsrv, log)
	if err != nil {
		return err
	}
	log.Info("controller replica serving", "replica", cfg.ReplicaID, "listen", ln.Addr().String(),
		"remoting", cfg.Remoting.describe(), "remotingAdvertise", cfg.Remoting.Advertise,
		"advertise", cfg.AdvertiseURL, "dashboard", strings.TrimSuffix(cfg.AdvertiseURL, "/")+ui.Prefix, "etcd", etcdCfg.Endpoints, "version", cfg.Version,
		"tracing", cfg.Tracing.Exporter)

	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error {
		return st.RunReplica(gctx, ledgerless.Replica{ID: cfg.ReplicaID, Address: cfg.AdvertiseURL,
			Version: cfg.Version, StartedAt: time.Now()}, func(err error) { log.Warn("replica registration", "err", err) })
	})
	g.Go(func() error { return sec.Run(gctx, cfg.Reload) })
	g.Go(serveHTTP)
	g.Go(serveRemoting)
	if !cfg.Remoting.off() {
		notifier := remoting.NewNotifier(svc, log)
		svc.OnElection(notifier.Elected)
		g.Go(func() error { return notifier.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
		svc.Drain()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		herr := srv.Shutdown(sctx)
		if herr != nil {
			herr = fmt.Errorf("http shutdown: %w", herr)
		}
		rerr := rsrv.Shutdown(sctx)
		if rerr != nil {
			rerr = fmt.Errorf("remoting shutdown: %w", rerr)
		}
		return errors.Join(herr, rerr)
	})
	err = g.Wait()
	log.Info("stopped", "err", err)
	return err
}

// applyRestoreFence applies the fence that `ledgerless snapshot restore`
// left in the data dir, before this replica elects anything (see
// store.Fence), then removes it. The fence is applied once however many
// restored members carry it.
func applyRestoreFence(ctx context.Context, st *store.Store, cfg Config, log *slog.Logger) error {
	f, ok, err := store.PendingFence(cfg.DataDir)
	if err != nil || !ok {
		return err
	}
	res, err := st.ApplyFence(ctx, f, cfg.ReplicaID, time.Now())
	if err != nil {
		return fmt.Errorf("restore fence %s (left in %s; starting again retries it): %w", f.ID, cfg.DataDir, err)
	}
	log.Warn("restored from a snapshot: groups fenced; each elects once its brokers report",
		"fence", f.ID, "epochMargin", f.EpochMargin, "groupsFenced", res.Groups, "alreadyApplied", res.Already)
	return store.ClearPendingFence(cfg.DataDir)
}
