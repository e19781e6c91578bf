package provider_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/ledgerless/ledgerless/tracing/provider"
)

// service is the process the test spans come from.
var service = provider.Service{Name: "ledgerless", Version: "1.2.3", Instance: "r7"}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    provider.Config
		want string // "" valid, else part of the error
	}{
		{"defaults", provider.Defaults(), ""},
		{"stdout", provider.Config{Exporter: "stdout", SampleRatio: 0.5}, ""},
		{"otlp http", provider.Config{Exporter: "otlp", Protocol: "http", Endpoint: "https://collector:4318"}, ""},
		{"otlp grpc", provider.Config{Exporter: "otlp", Protocol: "grpc", Endpoint: "http://collector:4317"}, ""},
		{"unknown exporter", provider.Config{Exporter: "jaeger"}, `tracing.exporter "jaeger"`},
		{"empty exporter", provider.Config{}, `tracing.exporter ""`},
		{"ratio above 1", provider.Config{Exporter: "none", SampleRatio: 1.5}, "tracing.sample-ratio 1.5"},
		{"negative ratio", provider.Config{Exporter: "none", SampleRatio: -0.1}, "tracing.sample-ratio -0.1"},
		{"unknown protocol", provider.Config{Exporter: "otlp", Protocol: "thrift"}, `tracing.protocol "thrift"`},
		{"endpoint without scheme", provider.Config{Exporter: "otlp", Endpoint: "collector:4317"}, `tracing.endpoint "collector:4317"`},
		{"endpoint of another scheme", provider.Config{Exporter: "otlp", Endpoint: "udp://collector:4317"}, "tracing.endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("validate: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// export records one span with the provider c describes and shuts the
// provider down, which flushes it.
func export(t *testing.T, c provider.Config) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	tp, shutdown, err := provider.New(context.Background(), c, service)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "exported")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestNoneHasNoProvider(t *testing.T) {
	tp, shutdown, err := provider.New(context.Background(), provider.Defaults(), service)
	if err != nil || tp != nil {
		t.Fatalf("exporter none: provider %v, err %v; want none", tp, err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStdout(t *testing.T) {
	var out bytes.Buffer
	export(t, provider.Config{Exporter: provider.ExporterStdout, SampleRatio: 1, Stdout: &out})
	for _, want := range []string{`"Name":"exported"`, `"Key":"service.name","Value":{"Type":"STRING","Value":"ledgerless"}`,
		`"Key":"service.instance.id","Value":{"Type":"STRING","Value":"r7"}`, `"Key":"service.version","Value":{"Type":"STRING","Value":"1.2.3"}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %s:\n%s", want, out.String())
		}
	}
}

// collector is an OTLP receiver on 127.0.0.1 that counts the spans it gets.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []string
	paths []string
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, s.Name)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.mu.Unlock()
	resp, _ := c.Export(r.Context(), &req)
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (c *collector) got(t *testing.T, path string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.spans) != 1 || c.spans[0] != "exported" {
		t.Errorf("collector got spans %v, want [exported]", c.spans)
	}
	if path != "" && (len(c.paths) != 1 || c.paths[0] != path) {
		t.Errorf("collector got posts to %v, want %s", c.paths, path)
	}
}

func TestOTLPGRPC(t *testing.T) {
	col := &collector{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, col)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	export(t, provider.Config{Exporter: provider.ExporterOTLP, Protocol: provider.ProtocolGRPC, Endpoint: "http://" + ln.Addr().String(), SampleRatio: 1})
	col.got(t, "")
}

func TestOTLPHTTP(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	export(t, provider.Config{Exporter: provider.ExporterOTLP, Protocol: "http", Endpoint: srv.URL, SampleRatio: 1})
	col.got(t, "/v1/traces")
}

// TestOTLPFromEnvironment leaves protocol and endpoint to the
// standard OTEL_EXPORTER_OTLP_* variables.
func TestOTLPFromEnvironment(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	export(t, provider.Config{Exporter: provider.ExporterOTLP, SampleRatio: 1})
	col.got(t, "/v1/traces")
}

func TestSamplerRecordsTraces(t *testing.T) {
	var out bytes.Buffer
	tp, shutdown, err := provider.New(context.Background(), provider.Config{Exporter: provider.ExporterStdout, Stdout: &out}, service)
	if err != nil {
		t.Fatal(err)
	}
	tracer := tp.Tracer("test")
	for _, tc := range []struct {
		name    string
		sampled bool
	}{{"ledgerless.elect", true}, {"ledgerless.lease-lost", true}, {"GET /v1/clusters", false}} {
		ctx, span := tracer.Start(context.Background(), tc.name)
		if span.SpanContext().IsSampled() != tc.sampled {
			t.Errorf("root span %s sampled: %v, want %v at a sample ratio of 0", tc.name, span.SpanContext().IsSampled(), tc.sampled)
		}
		if tc.name == "GET /v1/clusters" {
			if _, child := tracer.Start(ctx, "ledgerless.heartbeat"); child.SpanContext().IsSampled() {
				t.Error("a span below an unsampled request was sampled")
			}
		}
		span.End()
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
