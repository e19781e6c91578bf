package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/ledgerless/ledgerless/internal/pemfile"
)

// ClientConfig says how to reach etcd.
type ClientConfig struct {
	Endpoints   []string
	DialTimeout time.Duration
	Username    string
	Password    string
	CAFile      string // verifies the etcd servers; enables TLS
	CertFile    string // client certificate, with KeyFile
	KeyFile     string
	Prefix      string // key prefix; DefaultPrefix when empty

	// TracerProvider, when set, makes the etcd requests of a traced
	// operation spans of its trace. nil: no spans.
	TracerProvider trace.TracerProvider
	// Observer, when set, is told how long each etcd request took.
	Observer RequestObserver
}

// Open connects to etcd and returns a Store that owns the connection.
// Close the Store to release it.
func Open(cfg ClientConfig) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("open etcd: no endpoints")
	}
	l := &link{}
	cc := clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.DialTimeout,
		DialKeepAliveTime:    dialKeepAliveTime,
		DialKeepAliveTimeout: dialKeepAliveTimeout,
		PermitWithoutStream:  true,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zap.NewNop(),
		DialOptions:          dialOptions(cfg.TracerProvider, cfg.Observer, l),
	}
	if cfg.CAFile != "" || cfg.CertFile != "" {
		t, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		cc.TLS = t
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("open etcd %v: %w", cfg.Endpoints, err)
	}
	return newStore(cli, func() etcdserverpb.LeaseClient { return etcdserverpb.NewLeaseClient(cli.ActiveConnection()) }, cfg, l), nil
}

// gRPC keep-alive of the connection to etcd: a connection that received
// nothing for dialKeepAliveTime is pinged, and closed when the ping is
// not answered within dialKeepAliveTimeout, so that a silent path (every
// byte dropped, no connection closed) ends in a new connection instead of
// requests and streams that wait forever. gRPC pings no more often than
// every 10 s, and etcd refuses clients that ping more often than its
// --grpc-keepalive-min-time (5 s by default). The watch's progress and the
// requests' deadlines notice a silence much sooner (see link); this is
// what replaces the connection.
const (
	dialKeepAliveTime    = 10 * time.Second
	dialKeepAliveTimeout = 3 * time.Second
)

func tlsConfig(cfg ClientConfig) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pool, err := pemfile.CertPool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd ca: %w", err)
		}
		t.RootCAs = pool
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
