package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/metrics"
)

// TestHotPathAllocatesNothing guards what every heartbeat records.
func TestHotPathAllocatesNothing(t *testing.T) {
	m := metrics.New()
	allocs := testing.AllocsPerRun(100, func() {
		m.Heartbeat("ok", time.Millisecond)
		m.EtcdRequest("LeaseKeepAlive", time.Millisecond)
		m.EtcdRequest("Txn", time.Millisecond)
	})
	if allocs != 0 {
		t.Errorf("a heartbeat's metrics allocate %v times", allocs)
	}
}

func TestExposition(t *testing.T) {
	m := metrics.New()
	m.LongPolls(func() int { return 3 })
	m.LongPollLimit(10)
	m.EtcdConnected(func() time.Duration { return 1500 * time.Millisecond })
	m.Election("master-lost", "elected")
	m.Failover("master-lost", 40*time.Millisecond)
	m.Scanned(5, 9, 1)
	m.EtcdRequest("Compact", time.Millisecond) // not a method known in advance
	m.Request("/v1/clusters", "GET", 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`ledgerless_longpoll_waiters 3`, `ledgerless_longpoll_limit 10`, `ledgerless_etcd_connected_seconds 1.5`,
		`ledgerless_elections_total{outcome="elected",reason="master-lost"} 1`,
		`ledgerless_failover_seconds_sum{reason="master-lost"} 0.04`,
		`ledgerless_groups 5`, `ledgerless_alive_brokers 9`, `ledgerless_groups_without_master 1`,
		`ledgerless_etcd_request_duration_seconds_count{method="Compact"} 1`,
		`ledgerless_http_requests_total{method="GET",route="/v1/clusters",status="200"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestElectionSeriesFromTheStart: every reason and outcome the election
// package records has its series at 0 before the first election.
func TestElectionSeriesFromTheStart(t *testing.T) {
	rec := httptest.NewRecorder()
	metrics.New().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, reason := range ledgerless.ElectionReasons() {
		for _, outcome := range []string{election.OutcomeElected, election.OutcomeNoCandidate, election.OutcomeRefused, election.OutcomeFailed} {
			if want := `ledgerless_elections_total{outcome="` + outcome + `",reason="` + reason + `"} 0`; !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	for _, reason := range ledgerless.FailoverReasons() {
		if want := `ledgerless_failover_seconds_count{reason="` + reason + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
