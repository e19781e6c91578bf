package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EmbeddedConfig configures an etcd server run inside the controller.
type EmbeddedConfig struct {
	DataDir        string // etcd's files go to DataDir/etcd
	Name           string // member name
	ClientURL      string // listened on and advertised to clients
	PeerURL        string // listened on and advertised to peers
	InitialCluster string // "name=peerURL,..."; default: this member alone
	StartTimeout   time.Duration
	LogLevel       string // etcd's own zap level: debug, info, warn, error
	UnsafeNoFsync  bool   // tests only: trades durability for speed
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
	etcd  *embed.Etcd
	cfg   EmbeddedConfig
	level zap.AtomicLevel
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
	zc := zap.NewProductionConfig()
	zc.Level, zc.Sampling = level, nil
	lg, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("embedded etcd logger: %w", err)
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// Heartbeat data is rewritten all the time; keep only recent history.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "10m"
	cu, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd client url %q: %w", cfg.ClientURL, err)
	}
	pu, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd peer url %q: %w", cfg.PeerURL, err)
	}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
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
		return &Embedded{etcd: e, cfg: cfg, level: level}, nil
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

// Run blocks until ctx ends (nil) or the member fails. It does not stop
// the member, so that its users can shut down first: Close does.
func (e *Embedded) Run(ctx context.Context) error {
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

// Close stops the member; it is safe to call more than once. etcd logs
// its listeners' closing as errors; those lines are silenced.
func (e *Embedded) Close() {
	e.level.SetLevel(zapcore.FatalLevel)
	e.etcd.Close()
}
