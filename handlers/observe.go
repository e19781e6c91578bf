package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/tracing"
)

// Metrics records what the API serves and exposes every metric of the
// replica on /metrics.
type Metrics interface {
	// Request counts and times a request of route (its pattern).
	Request(route, method string, status int, d time.Duration)
	// Heartbeat counts a heartbeat by outcome ("ok" or its problem code)
	// and times the use case.
	Heartbeat(outcome string, d time.Duration)
	// AuthFailure counts a request refused for its credentials (401) or
	// its caller's role (403), by reason.
	AuthFailure(reason string)
	// Handler serves the metrics.
	Handler() http.Handler
}

func metricsMiddleware(m Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		m.Request(routeOf(c), c.Request.Method, c.Writer.Status(), time.Since(start))
	}
}

// routeOf is c's route pattern, or "unmatched" for a request that no
// route takes: metric labels and span names stay few.
func routeOf(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "unmatched"
}

// untraced are the routes that scrapers and probes call every few
// seconds; tracing them would only bury the API's traces.
var untraced = map[string]bool{"/metrics": true, "/healthz": true, "/readyz": true}

// tracingMiddleware makes every request a server span, a child of the
// caller's W3C trace context when it sends one.
func tracingMiddleware(tp trace.TracerProvider) gin.HandlerFunc {
	return otelgin.Middleware("ledgerless",
		otelgin.WithTracerProvider(tp),
		otelgin.WithPropagators(tracing.Propagator()),
		otelgin.WithMeterProvider(noop.NewMeterProvider()),
		otelgin.WithSpanNameFormatter(func(c *gin.Context) string { return c.Request.Method + " " + routeOf(c) }),
		otelgin.WithFilter(func(r *http.Request) bool { return !untraced[strings.TrimSuffix(r.URL.Path, "/")] }))
}

func (h *Handler) heartbeatDone(start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = problemFor(err).Code
	}
	h.metrics.Heartbeat(outcome, time.Since(start))
}
