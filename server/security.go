package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/internal/pemfile"
	"github.com/ledgerless/ledgerless/store"
)

// TLS says how a replica serves its API over TLS.
type TLS struct {
	CertFile, KeyFile string // both: serve HTTPS
	ClientCAFile      string // verifies client certificates
	// ClientAuth is none, optional (verify a certificate when one is
	// sent) or required; the default is required with ClientCAFile and
	// none without.
	ClientAuth string
}

// Limits bound what clients can make a replica hold. 0 is no bound for
// the counts; the sizes and timeouts must be positive.
type Limits struct {
	ReadTimeout        time.Duration // to read a whole request; its headers within min(this, 10s)
	IdleTimeout        time.Duration // a keep-alive connection waits this long for its next request
	MaxHeaderBytes     int
	MaxLongPolls       int // waiting at once on this replica
	MaxBrokersPerGroup int // registered, alive or not
}

// DefaultLimits are the limits a replica runs with unless told otherwise.
func DefaultLimits() Limits {
	return Limits{ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		MaxLongPolls: 10000, MaxBrokersPerGroup: 32}
}

// modernSuites are the TLS 1.2 cipher suites a replica accepts: forward
// secret AEADs only (TLS 1.3's suites are always these).
var modernSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func (c *Config) validateSecurity() error {
	t := &c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("tls-cert and tls-key go together")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		return errors.New("tls-client-ca needs tls-cert and tls-key: client certificates are verified over TLS")
	}
	switch t.ClientAuth {
	case "":
		t.ClientAuth = "none"
		if t.ClientCAFile != "" {
			t.ClientAuth = "required"
		}
	case "none":
		if t.ClientCAFile != "" {
			return errors.New("tls-client-ca is set but tls-client-auth is none: want optional or required")
		}
	case "optional", "required":
		if t.ClientCAFile == "" {
			return fmt.Errorf("tls-client-auth %s needs tls-client-ca", t.ClientAuth)
		}
	default:
		return fmt.Errorf("tls-client-auth %q: want none, optional or required", t.ClientAuth)
	}
	l := c.Limits
	if l.ReadTimeout <= 0 || l.IdleTimeout <= 0 || l.MaxHeaderBytes < 4096 {
		return errors.New("http-read-timeout and http-idle-timeout must be positive, http-max-header-bytes at least 4096")
	}
	if l.MaxLongPolls < 0 || l.MaxBrokersPerGroup < 0 {
		return errors.New("max-long-polls and max-brokers-per-group must not be negative (0: no limit)")
	}
	return nil
}

// validateEmbeddedTLS checks that the embedded etcd's https URLs have
// certificates and that the replica can talk to its own etcd over TLS.
func (c *Config) validateEmbeddedTLS() error {
	for _, l := range []struct {
		name, url string
		tls       store.ServerTLS
	}{{"embedded", c.Embedded.ClientURL, c.Embedded.ClientTLS}, {"embedded-peer", c.Embedded.PeerURL, c.Embedded.PeerTLS}} {
		u, _ := url.Parse(l.url)
		hasPair := l.tls.CertFile != "" && l.tls.KeyFile != ""
		if (u.Scheme == "https") != hasPair || (l.tls.CertFile == "") != (l.tls.KeyFile == "") {
			return fmt.Errorf("%s-url %s: an https URL needs %s-cert-file and %s-key-file, an http URL neither", l.name, l.url, l.name, l.name)
		}
		if l.tls.TrustedCAFile != "" && !hasPair {
			return fmt.Errorf("%s-trusted-ca-file needs an https %s-url", l.name, l.name)
		}
	}
	if c.Embedded.ClientTLS.CertFile == "" {
		return nil
	}
	if c.Etcd.CAFile == "" {
		return errors.New("the embedded etcd serves https: give etcd-ca-file, the CA that signed embedded-cert-file, so that this replica trusts it")
	}
	if c.Embedded.ClientTLS.TrustedCAFile != "" && c.Etcd.CertFile == "" {
		return errors.New("the embedded etcd requires client certificates (embedded-trusted-ca-file): give this replica's etcd-cert-file and etcd-key-file")
	}
	return nil
}

// security is a replica's TLS and authentication; Reload rereads both.
type security struct {
	tls  *serverTLS          // nil: plain HTTP
	auth *auth.Authenticator // nil: no authentication
	log  *slog.Logger
}

func loadSecurity(c Config, log *slog.Logger) (*security, error) {
	s := &security{log: log}
	if c.TLS.CertFile != "" {
		s.tls = &serverTLS{cfg: c.TLS}
		if err := s.tls.reload(); err != nil {
			return nil, err
		}
	}
	if c.AuthFile != "" {
		var err error
		if s.auth, err = auth.Load(c.AuthFile); err != nil {
			return nil, err
		}
		tokens, certs := s.auth.Credentials().Counts()
		log.Info("authentication on", "file", c.AuthFile, "tokens", tokens, "certificates", certs)
		if certs > 0 && c.TLS.ClientCAFile == "" {
			log.Warn("the credentials file maps client certificates, but no client certificate is asked for (tls-client-ca)")
		}
	}
	for _, w := range exposure(c.Listen, c.TLS, c.AuthFile != "") {
		log.Warn(w, "listen", c.Listen)
	}
	return s, nil
}

// handlerOptions are the API options security implies.
func (s *security) handlerOptions() []handlers.Option {
	if s.auth == nil {
		return nil
	}
	return []handlers.Option{handlers.WithAuth(s.auth)}
}

// serverConfig is the http.Server's TLS configuration, nil for plain HTTP.
func (s *security) serverConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.tls.current.Load(), nil
	}}
}

// Run reloads the credentials file and the TLS files whenever reload
// delivers, until ctx ends. A file that fails to load leaves the version
// in use; connections and calls in flight are not disturbed either way.
func (s *security) Run(ctx context.Context, reload <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload:
			s.reload()
		}
	}
}

func (s *security) reload() {
	if s.auth == nil && s.tls == nil {
		s.log.Info("nothing to reload: no auth-file and no tls-cert")
	}
	if s.auth != nil {
		if err := s.auth.Reload(); err != nil {
			s.log.Error("credentials not reloaded; the previous ones stay in use", "err", err)
		} else {
			tokens, certs := s.auth.Credentials().Counts()
			s.log.Info("credentials reloaded", "tokens", tokens, "certificates", certs)
		}
	}
	if s.tls != nil {
		if err := s.tls.reload(); err != nil {
			s.log.Error("TLS files not reloaded; the previous ones stay in use", "err", err)
		} else {
			s.log.Info("TLS files reloaded")
		}
	}
}

// serverTLS holds the TLS configuration that new handshakes use.
type serverTLS struct {
	cfg     TLS
	current atomic.Pointer[tls.Config]
}

func (s *serverTLS) reload() error {
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: modernSuites,
		Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	if s.cfg.ClientCAFile != "" {
		pool, err := pemfile.CertPool(s.cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("tls-client-ca: %w", err)
		}
		t.ClientCAs = pool
		t.ClientAuth = tls.VerifyClientCertIfGiven
		if s.cfg.ClientAuth == "required" {
			t.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	s.current.Store(t)
	return nil
}

// exposure returns warnings for a replica listening beyond this host
// without TLS or without authentication. Required client certificates
// count as authentication: every holder of one is an admin.
func exposure(listen string, t TLS, authFile bool) []string {
	host, _, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	var out []string
	if t.CertFile == "" {
		out = append(out, "serving plain HTTP beyond this host: anyone on the network path can read and alter requests, tokens included; set tls-cert and tls-key")
	}
	if !authFile && t.ClientAuth != "required" {
		out = append(out, "serving without authentication beyond this host: anyone who reaches it can elect masters and remove brokers; set auth-file")
	}
	return out
}
