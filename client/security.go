package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/ledgerless/ledgerless/internal/pemfile"
)

// TLS is what the transport's own HTTP client needs to reach controllers
// over https beyond the system's trust: the controllers' CA and a client
// certificate.
type TLS struct {
	// CAFile is a PEM bundle of the CAs that sign the controllers'
	// certificates. Empty: the system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key, PEM,
	// for controllers that verify client certificates; both or neither.
	// They are read again for every new connection, so that renewed files
	// take effect without a restart; files that do not load then leave
	// the previous certificate in use.
	CertFile, KeyFile string
}

func (c TLS) set() bool { return c != TLS{} }

// config loads c into a TLS client configuration.
func (c TLS) config() (*tls.Config, error) {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("TLS: give both a client certificate and its key, or neither")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := pemfile.CertPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w", err)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		kp := &keyPair{certFile: c.CertFile, keyFile: c.KeyFile}
		if err := kp.load(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = kp.get
	}
	return cfg, nil
}

// keyPair is a client certificate read again from its files for every
// handshake.
type keyPair struct {
	certFile, keyFile string
	mu                sync.Mutex
	last              *tls.Certificate // the last one that loaded
}

func (k *keyPair) load() error {
	cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("TLS client certificate: %w", err)
	}
	k.mu.Lock()
	k.last = &cert
	k.mu.Unlock()
	return nil
}

// get is the tls.Config's GetClientCertificate: the files' certificate,
// or the last one that loaded.
func (k *keyPair) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	_ = k.load()
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last, nil
}

// readToken reads a bearer token from the first line of file. Errors
// name the file, never its content.
func readToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token, _, _ := strings.Cut(string(b), "\n")
	if token = strings.TrimSpace(token); token == "" {
		return "", fmt.Errorf("token file %s: no token in it", file)
	}
	return token, nil
}
