// Package metrics owns the Prometheus metrics of a controller replica:
// it defines every ledgerless_* metric, records them through the small
// observer interfaces that packages store, election and handlers declare,
// and serves them, with the Go runtime and process metrics, on /metrics.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledgerless/ledgerless"
)

// etcdMethods are the etcd requests a replica makes, timed without a
// label lookup; others are looked up when they occur.
var etcdMethods = []string{"Range", "Txn", "LeaseGrant", "LeaseRevoke", "LeaseKeepAlive", "Status", "MemberList"}

// Metrics is a replica's Prometheus registry and metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	heartbeats    *prometheus.CounterVec
	heartbeatsOK  prometheus.Counter
	heartbeatTime prometheus.Histogram
	elections     *prometheus.CounterVec
	failover      *prometheus.HistogramVec
	groups        prometheus.Gauge
	aliveBrokers  prometheus.Gauge
	withoutMaster prometheus.Gauge
	etcd          *prometheus.HistogramVec
	etcdByMethod  map[string]prometheus.Observer
	authFailures  *prometheus.CounterVec
	remoting      *prometheus.CounterVec
	remotingTime  *prometheus.HistogramVec
	suspicions    *prometheus.CounterVec
	dismissals    *prometheus.CounterVec
	confirmTime   prometheus.Histogram
}

// New returns a registry with the Go runtime and process metrics and
// every ledgerless metric; LongPolls adds the long-poll gauge.
func New() *Metrics {
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
		heartbeatTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ledgerless_heartbeat_duration_seconds", Help: "Time to handle a broker heartbeat: lease renewal, data write and state read.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		elections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_elections_total",
			Help: "Elections decided by this replica, by reason (first-master, master-lost, master-resigned, master-crashed, no-master, admin) and outcome (elected, no-candidate, refused, failed).",
		}, []string{"reason", "outcome"}),
		failover: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ledgerless_failover_seconds", Help: "Time from a master's lease going away, as this replica saw it, to its successor's election being committed, by reason.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"reason"}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledgerless_groups", Help: "Broker groups, as of the last reconcile (the same on every replica).",
		}),
		aliveBrokers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledgerless_alive_brokers", Help: "Brokers whose lease is alive, as of the last reconcile (the same on every replica).",
		}),
		withoutMaster: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledgerless_groups_without_master", Help: "Groups whose master is none or not alive, as of the last reconcile (the same on every replica).",
		}),
		etcd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ledgerless_etcd_request_duration_seconds", Help: "etcd request latency as this replica sees it, by method (Range, Txn, LeaseKeepAlive, ...).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"method"}),
		etcdByMethod: map[string]prometheus.Observer{},
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_auth_failures_total",
			Help: "Requests refused for missing, malformed or unknown credentials (401) or a role that does not allow them (403: forbidden), by reason.",
		}, []string{"reason"}),
		remoting: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_remoting_requests_total",
			Help: "RocketMQ remoting requests served, by request code name and outcome (the response code name; oneway for an unanswered heartbeat).",
		}, []string{"code", "outcome"}),
		remotingTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ledgerless_remoting_request_duration_seconds", Help: "RocketMQ remoting request latency, by request code name.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"code"}),
		suspicions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_crash_suspicions_total",
			Help: "Brokers suspected of a crash because their last connection to this replica closed, by outcome: raised, confirmed (lease ended at once) or dismissed.",
		}, []string{"outcome"}),
		dismissals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerless_crash_dismissals_total",
			Help: "Crash suspicions dismissed, by why: not-alive, reconnected, untrusted, answered, unreachable, renewed, failed.",
		}, []string{"why"}),
		confirmTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ledgerless_crash_confirm_seconds", Help: "Time from a broker's last connection closing to its crash being confirmed and its lease ended.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	m.initSeries()
	m.heartbeatsOK = m.heartbeats.WithLabelValues("ok")
	for _, method := range etcdMethods {
		m.etcdByMethod[method] = m.etcd.WithLabelValues(method)
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.heartbeats, m.heartbeatTime, m.elections, m.failover,
		m.groups, m.aliveBrokers, m.withoutMaster, m.etcd, m.authFailures, m.remoting, m.remotingTime,
		m.suspicions, m.dismissals, m.confirmTime)
	return m
}

// Label values known in advance that no package of the project lists:
// election's Outcome* constants, and the refusal reasons of both front
// ends (handlers' and remoting's).
var (
	electionOutcomes = []string{"elected", "no-candidate", "refused", "failed"}
	authReasons      = []string{"missing", "malformed", "invalid_token", "unknown_certificate", "invalid", "forbidden"}
)

// initSeries creates every series whose labels are known in advance, at
// 0, so that rates, dashboards and absent() alerts work before the first
// election, failover, refusal or crash.
func (m *Metrics) initSeries() {
	for _, reason := range ledgerless.ElectionReasons() {
		for _, outcome := range electionOutcomes {
			m.elections.WithLabelValues(reason, outcome)
		}
	}
	for _, reason := range ledgerless.FailoverReasons() {
		m.failover.WithLabelValues(reason)
	}
	m.heartbeats.WithLabelValues("ok")
	m.heartbeats.WithLabelValues("INTERNAL")
	for _, c := range ledgerless.Conditions {
		m.heartbeats.WithLabelValues(c.Code)
	}
	for _, reason := range authReasons {
		m.authFailures.WithLabelValues(reason)
	}
	for _, o := range []string{"raised", "confirmed", "dismissed"} {
		m.suspicions.WithLabelValues(o)
	}
	for _, why := range []string{"not-alive", "reconnected", "untrusted", "answered", "unreachable", "renewed", "failed"} {
		m.dismissals.WithLabelValues(why)
	}
}

// LongPolls exposes waiters, the number of long polls waiting now, as
// ledgerless_longpoll_waiters.
func (m *Metrics) LongPolls(waiters func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ledgerless_longpoll_waiters", Help: "Long polls waiting for a group change now.",
	}, func() float64 { return float64(waiters()) }))
}

// LongPollLimit exposes the most long polls that may wait at once as
// ledgerless_longpoll_limit, for alerts on ledgerless_longpoll_waiters
// nearing it; with no limit (0) there is no such series.
func (m *Metrics) LongPollLimit(limit int) {
	if limit <= 0 {
		return
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ledgerless_longpoll_limit", Help: "The most long polls that may wait at once on this replica (--max-long-polls); more are refused with 503.",
	})
	g.Set(float64(limit))
	m.reg.MustRegister(g)
}

// EtcdConnected exposes connectedFor, how long the replica has been
// connected to etcd without interruption, as
// ledgerless_etcd_connected_seconds: 0 while etcd is unreachable.
func (m *Metrics) EtcdConnected(connectedFor func() time.Duration) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ledgerless_etcd_connected_seconds", Help: "How long this replica has been connected to etcd without interruption; 0 while it cannot reach etcd.",
	}, func() float64 { return connectedFor().Seconds() }))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Request counts an HTTP request of route (its pattern) and times it.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Heartbeat counts a heartbeat by outcome ("ok" or its problem code) and
// times it.
func (m *Metrics) Heartbeat(outcome string, d time.Duration) {
	if outcome == "ok" {
		m.heartbeatsOK.Inc()
	} else {
		m.heartbeats.WithLabelValues(outcome).Inc()
	}
	m.heartbeatTime.Observe(d.Seconds())
}

// Election counts an election decided by this replica.
func (m *Metrics) Election(reason, outcome string) {
	m.elections.WithLabelValues(reason, outcome).Inc()
}

// Failover records the time from a master's lease loss to its
// successor's election.
func (m *Metrics) Failover(reason string, d time.Duration) {
	m.failover.WithLabelValues(reason).Observe(d.Seconds())
}

// Scanned records the reconcile's counts.
func (m *Metrics) Scanned(groups, aliveBrokers, withoutLiveMaster int) {
	m.groups.Set(float64(groups))
	m.aliveBrokers.Set(float64(aliveBrokers))
	m.withoutMaster.Set(float64(withoutLiveMaster))
}

// EtcdRequest times an etcd request.
func (m *Metrics) EtcdRequest(method string, d time.Duration) {
	o, ok := m.etcdByMethod[method]
	if !ok {
		o = m.etcd.WithLabelValues(method)
	}
	o.Observe(d.Seconds())
}

// AuthFailure counts a request refused for its credentials or its role.
func (m *Metrics) AuthFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// RemotingRequest counts a RocketMQ remoting request by its code's name
// and outcome, and times it.
func (m *Metrics) RemotingRequest(code, outcome string, d time.Duration) {
	m.remoting.WithLabelValues(code, outcome).Inc()
	m.remotingTime.WithLabelValues(code).Observe(d.Seconds())
}

// CrashSuspected counts a crash suspicion raised.
func (m *Metrics) CrashSuspected() { m.suspicions.WithLabelValues("raised").Inc() }

// CrashSuspicionEnded counts a suspicion confirmed or dismissed (why:
// for what), and times a confirmation.
func (m *Metrics) CrashSuspicionEnded(outcome, why string, d time.Duration) {
	m.suspicions.WithLabelValues(outcome).Inc()
	if outcome == "confirmed" {
		m.confirmTime.Observe(d.Seconds())
	} else {
		m.dismissals.WithLabelValues(why).Inc()
	}
}
