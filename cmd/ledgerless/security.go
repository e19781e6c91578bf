package main

import (
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/ledgerless/ledgerless/server"
)

// securityFlags declares the flags of TLS, authentication, the embedded
// etcd's TLS and the limits.
func securityFlags(f *pflag.FlagSet, d server.Config) {
	f.String("tls-cert", "", "certificate (PEM) to serve the API over HTTPS; reloaded on SIGHUP")
	f.String("tls-key", "", "private key (PEM) of tls-cert")
	f.String("tls-client-ca", "", "CA bundle verifying client certificates")
	f.String("tls-client-auth", "", "client certificates: none, optional or required (default required with tls-client-ca, else none)")
	f.String("auth-file", "", "credentials file (token hashes and certificate subjects with roles); turns authentication on; reloaded on SIGHUP")
	f.String("embedded-cert-file", "", "certificate of the embedded etcd's https client URL")
	f.String("embedded-key-file", "", "key of embedded-cert-file")
	f.String("embedded-trusted-ca-file", "", "CA that etcd clients' certificates must be signed by (requires client certificates)")
	f.String("embedded-peer-cert-file", "", "certificate of the embedded etcd's https peer URL, for server and client use")
	f.String("embedded-peer-key-file", "", "key of embedded-peer-cert-file")
	f.String("embedded-peer-trusted-ca-file", "", "CA of the other members' peer certificates")
	l := d.Limits
	f.Duration("http-read-timeout", l.ReadTimeout, "longest time to read a request (its headers: at most 10s)")
	f.Duration("http-idle-timeout", l.IdleTimeout, "how long an idle keep-alive connection stays open")
	f.Int("http-max-header-bytes", l.MaxHeaderBytes, "largest request header (431 beyond)")
	f.Int("max-long-polls", l.MaxLongPolls, "long polls waiting at once on this replica (503 beyond); 0: no limit")
	f.Int("max-brokers-per-group", l.MaxBrokersPerGroup, "registered brokers per group (409 TOO_MANY_BROKERS beyond); 0: no limit")
}

// securityConfig reads what securityFlags declares into cfg.
func securityConfig(v *viper.Viper, cfg *server.Config) {
	cfg.TLS = server.TLS{CertFile: v.GetString("tls-cert"), KeyFile: v.GetString("tls-key"),
		ClientCAFile: v.GetString("tls-client-ca"), ClientAuth: v.GetString("tls-client-auth")}
	cfg.AuthFile = v.GetString("auth-file")
	cfg.Embedded.ClientTLS.CertFile = v.GetString("embedded-cert-file")
	cfg.Embedded.ClientTLS.KeyFile = v.GetString("embedded-key-file")
	cfg.Embedded.ClientTLS.TrustedCAFile = v.GetString("embedded-trusted-ca-file")
	cfg.Embedded.PeerTLS.CertFile = v.GetString("embedded-peer-cert-file")
	cfg.Embedded.PeerTLS.KeyFile = v.GetString("embedded-peer-key-file")
	cfg.Embedded.PeerTLS.TrustedCAFile = v.GetString("embedded-peer-trusted-ca-file")
	cfg.Limits = server.Limits{ReadTimeout: v.GetDuration("http-read-timeout"), IdleTimeout: v.GetDuration("http-idle-timeout"),
		MaxHeaderBytes: v.GetInt("http-max-header-bytes"), MaxLongPolls: v.GetInt("max-long-polls"),
		MaxBrokersPerGroup: v.GetInt("max-brokers-per-group")}
}
