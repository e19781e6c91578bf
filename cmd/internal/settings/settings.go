// Package settings reads what the commands (ledgerless serve, brokersim)
// configure alike from flags, environment variables and files through
// viper: the environment's naming, comma-separated lists, the logger and
// the tracing section. It is the commands' own: viper goes no further.
package settings

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/ledgerless/ledgerless/tracing/provider"
)

// Env makes v read unset keys from PREFIX_* environment variables: the
// flag --heartbeat-timeout from PREFIX_HEARTBEAT_TIMEOUT, the key
// tracing.exporter from PREFIX_TRACING_EXPORTER.
func Env(v *viper.Viper, prefix string) {
	v.SetEnvPrefix(prefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
}

// List splits comma-separated items, as environment variables and YAML
// strings give them, and drops empty ones.
func List(items []string) []string {
	var out []string
	for _, item := range items {
		for _, s := range strings.Split(item, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Logger returns a logger writing to w at level (debug, info, warn or
// error) in format (text or json).
func Logger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: want text or json", format)
}

// tracingKeys are the keys of the tracing section.
var tracingKeys = []string{"exporter", "protocol", "endpoint", "sample-ratio"}

// TracingFlags defines the --tracing-* flags on f with d's defaults and
// binds them in v as the keys of a tracing section: tracing.exporter is
// --tracing-exporter, PREFIX_TRACING_EXPORTER (see Env) and exporter
// under tracing: in a YAML file.
func TracingFlags(f *pflag.FlagSet, v *viper.Viper, d provider.Config) {
	f.String("tracing-exporter", d.Exporter, "where spans go: none, stdout (JSON on standard output) or otlp")
	f.String("tracing-protocol", d.Protocol, "OTLP protocol: grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc)")
	f.String("tracing-endpoint", d.Endpoint, "OTLP collector URL, http(s)://host:port (default: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost)")
	f.Float64("tracing-sample-ratio", d.SampleRatio, "share of new traces recorded, 0 to 1 (a caller's sampled trace is always continued)")
	for _, key := range tracingKeys {
		_ = v.BindPFlag("tracing."+key, f.Lookup("tracing-"+key))
	}
}

// Tracing reads the tracing section that TracingFlags binds; the stdout
// exporter writes to stdout.
func Tracing(v *viper.Viper, stdout io.Writer) provider.Config {
	return provider.Config{Exporter: v.GetString("tracing.exporter"), Protocol: v.GetString("tracing.protocol"),
		Endpoint: v.GetString("tracing.endpoint"), SampleRatio: v.GetFloat64("tracing.sample-ratio"), Stdout: stdout}
}
