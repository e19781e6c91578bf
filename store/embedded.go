package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ledgerless/ledgerless/internal/etcdstop"
	"github.com/ledgerless/ledgerless/tracing"
)

// EmbeddedConfig configures an etcd server run inside the controller.
type EmbeddedConfig struct {
	DataDir   string // etcd's files go to DataDir/etcd
	Name      string // member name
	ClientURL string // advertised to clients, and listened on unless ListenClientURL is set
	PeerURL   string // advertised to peers, and listened on unless ListenPeerURL is set
	// ListenClientURL and ListenPeerURL bind the listeners where the
	// advertised URLs cannot: etcd binds IP addresses only, so a member
	// advertised as http://ctl1:2379 listens on http://0.0.0.0:2379.
	ListenClientURL, ListenPeerURL string
	InitialCluster                 string // "name=peerURL,..."; default: this member alone
	// CompactionRetention is the history period: every period the member
	// compacts to the revision of one period earlier (see compact.go).
	// Default DefaultCompactionRetention.
	CompactionRetention time.Duration
	// NoDefrag turns off the defragmentation that follows a compaction
	// which freed at least half of the database file.
	NoDefrag     bool
	StartTimeout time.Duration
	// Logger receives etcd's own lines (component=etcd) at LogLevel
	// (debug, info, warn, error; default warn) and above. Nil: none.
	Logger        *slog.Logger
	LogLevel      string
	UnsafeNoFsync bool // tests only: trades durability for speed
	// ClientTLS and PeerTLS serve the https client and peer URLs.
	ClientTLS, PeerTLS ServerTLS
}

// ServerTLS is the TLS of an embedded etcd listener.
type ServerTLS struct {
	CertFile, KeyFile string
	// TrustedCAFile, when set, makes the listener require certificates
	// signed by it from its clients; for peers it also verifies the other
	// members' servers.
	TrustedCAFile string
}

func (t ServerTLS) info() transport.TLSInfo {
	return transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile,
		ClientCertAuth: t.TrustedCAFile != ""}
}

// Embedded is a running embedded etcd member.
type Embedded struct {
	etcd    *embed.Etcd
	cfg     EmbeddedConfig
	level   zap.AtomicLevel
	log     *zap.Logger
	streams *etcdstop.Streams
	close   sync.Once
}

// StartEmbedded starts an etcd member and waits until it serves clients or
// StartTimeout passes. A member of a multi-member cluster is ready only
// once a quorum of members has started.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	ec := embed.NewConfig()
	ec.Dir = filepath.Join(cfg.DataDir, "etcd")
	ec.Name = cfg.Name
	level := zap.NewAtomicLevelAt(zapcore.WarnLevel)
	if cfg.LogLevel != "" {
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return nil, fmt.Errorf("embedded etcd log level %q: %w", cfg.LogLevel, err)
		}
	}
	lg := etcdLogger(cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), level)
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	streams := etcdstop.New()
	ec.GRPCAdditionalServerOptions = append(ec.GRPCAdditionalServerOptions, streams.ServerOptions()...)
	// Run compacts instead of etcd's own compactor (compact.go).
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "0"
	var urls [4]url.URL
	for i, u := range []struct{ name, url string }{
		{"client url", cfg.ClientURL}, {"listen client url", cmp.Or(cfg.ListenClientURL, cfg.ClientURL)},
		{"peer url", cfg.PeerURL}, {"listen peer url", cmp.Or(cfg.ListenPeerURL, cfg.PeerURL)},
	} {
		p, err := url.Parse(u.url)
		if err != nil {
			return nil, fmt.Errorf("embedded etcd %s %q: %w", u.name, u.url, err)
		}
		urls[i] = *p
	}
	ec.AdvertiseClientUrls, ec.ListenClientUrls = urls[:1], urls[1:2]
	ec.AdvertisePeerUrls, ec.ListenPeerUrls = urls[2:3], urls[3:4]
	ec.ClientTLSInfo, ec.PeerTLSInfo = cfg.ClientTLS.info(), cfg.PeerTLS.info()
	ec.InitialCluster = cfg.InitialCluster
	if ec.InitialCluster == "" {
		ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	select {
	case <-e.Server.ReadyNotify():
		return &Embedded{etcd: e, cfg: cfg, level: level, log: lg, streams: streams}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd not ready after %s (a multi-member cluster needs a quorum of members started)", timeout)
	}
}

// Endpoints are the client URLs of this member.
func (e *Embedded) Endpoints() []string { return []string{e.cfg.ClientURL} }

// Run keeps the member's history short (compact.go) and blocks until ctx
// ends (nil) or the member fails. It does not stop the member, so that
// its users can shut down first: Close does.
func (e *Embedded) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		e.maintain(ctx, cmp.Or(e.cfg.CompactionRetention, DefaultCompactionRetention))
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-e.etcd.Err():
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("embedded etcd: %w", err)
	}
}

// Close stops the member; it is safe to call more than once. It ends the
// watch and keep-alive streams of the member's gRPC clients first (see
// internal/etcdstop), so that it takes milliseconds, not the 7 s etcd
// would wait for them. etcd logs its listeners' closing as errors; those
// lines are silenced.
func (e *Embedded) Close() {
	e.close.Do(func() { // embed.Etcd.Close panics when called twice
		e.level.SetLevel(zapcore.FatalLevel)
		e.streams.Stop()
		e.etcd.Close()
	})
}

// Open returns a Store on this member. A single member is called in
// process, without gRPC or sockets: a heartbeat's lease renewal and
// transaction then cost the controller no serialisation and no system
// calls. A member of a multi-member cluster is reached over gRPC at its
// client URL like any etcd, so that its watches end when it loses the
// leader (clientv3.WithRequireLeader, which in-process calls do not
// carry). cfg's endpoints are ignored.
func (e *Embedded) Open(cfg ClientConfig) (*Store, error) {
	cfg.Endpoints = e.Endpoints()
	if len(e.etcd.Server.Cluster().Members()) > 1 {
		return Open(cfg)
	}
	l := &link{}
	cli, lease := inProcess(e.etcd.Server, tracing.Tracer(cfg.TracerProvider), cfg.Observer, l)
	return newStore(cli, func() etcdserverpb.LeaseClient { return lease }, cfg, l), nil
}
