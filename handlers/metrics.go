package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the replica's Prometheus registry and the HTTP metrics
// recorded by the handlers.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	heartbeats *prometheus.CounterVec
}

// NewMetrics registers the Go runtime, process and HTTP metrics, and
// waiters, a gauge of the long polls waiting now.
func NewMetrics(waiters func() int) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_http_requests_total", Help: "HTTP requests served, by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ledgerless_http_request_duration_seconds", Help: "HTTP request latency, by route and method; long polls included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"route", "method"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_heartbeats_total", Help: "Broker heartbeats handled, by outcome (ok or the problem code).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.heartbeats,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledgerless_longpoll_waiters", Help: "Long polls waiting for a group change now.",
		}, func() float64 { return float64(waiters()) }))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

func (m *Metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(route, c.Request.Method).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) heartbeat(err error) {
	outcome := "ok"
	if err != nil {
		outcome = problemFor(err).Code
	}
	m.heartbeats.WithLabelValues(outcome).Inc()
}
