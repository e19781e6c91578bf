// Package provider builds the OpenTelemetry tracer provider of a ledgerless
// process (a controller replica, brokersim) from its configuration: the
// exporter (none, stdout, or OTLP over gRPC or HTTP), the sampler and the
// resource that names the process. It is apart from package tracing so
// that what only reads trace context (the broker SDK) links no exporter.
package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/tracing"
)

// Exporters.
const (
	ExporterNone   = "none"
	ExporterStdout = "stdout"
	ExporterOTLP   = "otlp"
)

// OTLP protocols.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Config says where a process's spans go.
type Config struct {
	// Exporter is none (no tracing), stdout (one JSON object per span on
	// Stdout) or otlp.
	Exporter string
	// Protocol is the OTLP protocol, grpc or http/protobuf ("http" for
	// short). Empty: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
	// OTEL_EXPORTER_OTLP_PROTOCOL, else grpc.
	Protocol string
	// Endpoint is the collector's base URL, http://host:port (https for
	// TLS); with http/protobuf, a URL without a path is sent to /v1/traces.
	// Empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, else localhost (4317 for grpc, 4318 for
	// http). The other OTEL_EXPORTER_OTLP_* variables (headers,
	// certificates, timeout, compression) apply too.
	Endpoint string
	// SampleRatio is the share of new traces recorded, 0 to 1. A request
	// whose caller sent a trace context follows the caller's decision;
	// the traces the process starts with a span of ledgerless's own
	// (tracing.SpanPrefix: a replica's elections, lost leases) are always
	// recorded.
	SampleRatio float64
	// Stdout receives the stdout exporter's spans; os.Stdout when nil.
	Stdout io.Writer
}

// Defaults is no tracing, and every trace recorded once it is on.
func Defaults() Config { return Config{Exporter: ExporterNone, SampleRatio: 1} }

// Validate checks c; it spells the protocol "http" out.
func (c *Config) Validate() error {
	switch c.Exporter {
	case ExporterNone, ExporterStdout, ExporterOTLP:
	default:
		return fmt.Errorf("tracing.exporter %q: want none, stdout or otlp", c.Exporter)
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("tracing.sample-ratio %v: want 0 to 1", c.SampleRatio)
	}
	switch c.Protocol {
	case "", ProtocolGRPC, ProtocolHTTP:
	case "http":
		c.Protocol = ProtocolHTTP
	default:
		return fmt.Errorf("tracing.protocol %q: want grpc or http/protobuf", c.Protocol)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("tracing.endpoint %q: want http://host:port or https://host:port", c.Endpoint)
		}
	}
	return nil
}

// Service names the process on its spans: the resource attributes
// service.name, service.version and service.instance.id.
type Service struct {
	Name, Version, Instance string
}

// Flush calls shutdown, as New returned it, for at most timeout and logs
// a failure: the spans still buffered are exported before the process
// exits. It runs even when ctx has ended.
func Flush(ctx context.Context, shutdown func(context.Context) error, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		log.Warn("flushing spans", "err", err)
	}
}

// LogErrors sends the errors of OpenTelemetry's exporters, which it
// reports apart from any call, to log.
func LogErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
}

// New builds the tracer provider that c, validated, describes, for
// service. It returns a nil provider when tracing is off. shutdown
// flushes the spans not yet exported and stops the provider; it returns
// when done or when ctx ends.
func New(ctx context.Context, c Config, service Service) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	var exp sdktrace.SpanExporter
	switch c.Exporter {
	case ExporterNone:
		return nil, func(context.Context) error { return nil }, nil
	case ExporterStdout:
		w := c.Stdout
		if w == nil {
			w = os.Stdout
		}
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	case ExporterOTLP:
		exp, err = otlpExporter(ctx, c)
	default:
		err = errors.New("unknown exporter")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tracing exporter %s: %w", c.Exporter, err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", service.Name),
		attribute.String("service.version", service.Version),
		attribute.String("service.instance.id", service.Instance)))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))}))
	return sdk, sdk.Shutdown, nil
}

// sampler samples as its Sampler does, but records every trace that
// starts with a span of ledgerless's own (a replica's automatic
// elections, lost leases, reconciles that find groups without a live
// master): they are rare, and they are what an operator looks for after a
// failover, whatever the sample ratio of API requests.
type sampler struct{ sdktrace.Sampler }

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() && strings.HasPrefix(p.Name, tracing.SpanPrefix) {
		return sdktrace.AlwaysSample().ShouldSample(p)
	}
	return s.Sampler.ShouldSample(p)
}

func otlpExporter(ctx context.Context, c Config) (sdktrace.SpanExporter, error) {
	protocol := c.Protocol
	for _, env := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if protocol == "" {
			protocol = os.Getenv(env)
		}
	}
	switch protocol {
	case "", ProtocolGRPC:
		var opts []otlptracegrpc.Option
		if c.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	case ProtocolHTTP, "http":
		var opts []otlptracehttp.Option
		if c.Endpoint != "" {
			u, _ := url.Parse(c.Endpoint) // validated
			if strings.Trim(u.Path, "/") == "" {
				u.Path = "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("protocol %q: want grpc or http/protobuf", protocol)
}
