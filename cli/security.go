package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ledgerless/ledgerless/client"
)

// Environment variables that stand in for the security flags.
const (
	TokenEnv  = "LEDGERLESS_TOKEN"  // --token
	CACertEnv = "LEDGERLESS_CACERT" // --cacert
	CertEnv   = "LEDGERLESS_CERT"   // --cert
	KeyEnv    = "LEDGERLESS_KEY"    // --key
)

// credentials are the security flags' values.
type credentials struct {
	token, tokenFile  string
	caCert, cert, key string
}

func (c *credentials) flags(f *pflag.FlagSet) {
	f.StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token for a controller with authentication on (read on every run)")
	f.StringVar(&c.token, "token", "", "bearer token (visible to other local users in ps: prefer --token-file or "+TokenEnv+")")
	f.StringVar(&c.caCert, "cacert", "", "CA bundle (PEM) that verifies the controllers' certificates, for https URLs (env "+CACertEnv+"; default: the system's roots)")
	f.StringVar(&c.cert, "cert", "", "client certificate (PEM) for controllers that verify client certificates (env "+CertEnv+")")
	f.StringVar(&c.key, "key", "", "key (PEM) of --cert (env "+KeyEnv+")")
}

// transportOptions are the transport's options for controllers: the
// token from --token, else --token-file, else $LEDGERLESS_TOKEN, and the
// TLS files from their flags, else their environment variables.
func (a *app) transportOptions(cmd *cobra.Command, controllers []string) (client.TransportOptions, error) {
	c := a.credentials
	if c.token != "" && c.tokenFile != "" {
		return client.TransportOptions{}, usageError(cmd, "give --token or --token-file, not both")
	}
	if c.token == "" && c.tokenFile == "" {
		c.token = a.opts.Getenv(TokenEnv)
	}
	for _, f := range []struct {
		value *string
		env   string
	}{{&c.caCert, CACertEnv}, {&c.cert, CertEnv}, {&c.key, KeyEnv}} {
		if *f.value == "" {
			*f.value = a.opts.Getenv(f.env)
		}
	}
	if (c.cert == "") != (c.key == "") {
		return client.TransportOptions{}, usageError(cmd, "give --cert and --key together")
	}
	// Each controller gets its share of --timeout to answer a request that
	// may go to the next one, so that one which accepts connections and
	// never answers leaves the others time.
	return client.TransportOptions{Controllers: controllers, HTTP: a.opts.HTTP, Token: strings.TrimSpace(c.token),
		AnswerTimeout: a.timeout / time.Duration(len(controllers)), TokenFile: c.tokenFile, TLS: client.TLS{CAFile: c.caCert, CertFile: c.cert, KeyFile: c.key}}, nil
}

// hint says what to do about a refusal or a TLS failure, if it knows;
// certless says that the caller gave no client certificate for an https
// controller.
func hint(err error, status int, certless bool) string {
	var verify *tls.CertificateVerificationError
	var op *net.OpError
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Sprintf("The controller does not know the caller: give a token it knows with --token-file, --token or %s, or a client certificate with --cert and --key.", TokenEnv)
	case status == http.StatusForbidden:
		return "The controller knows the caller, but its role does not allow this call."
	case status != 0, err == nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &op) && op.Op == "dial":
		return ""
	case errors.As(err, &verify):
		return "The controller's certificate is not trusted: give the CA that signed it with --cacert."
	case certless:
		// A controller that requires a client certificate ends the
		// connection after the handshake, in ways that do not say why.
		return "If the controller requires client certificates, give one with --cert and --key."
	}
	return ""
}
