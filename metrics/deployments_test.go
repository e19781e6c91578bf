package metrics_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/ledgerless/ledgerless/metrics"
)

const (
	alertsFile    = "../deployments/prometheus/alerts.yml"
	dashboardFile = "../deployments/grafana/ledgerless.json"
)

// prometheusOwn are series Prometheus makes itself for every target.
var prometheusOwn = map[string]bool{"up": true}

// exported returns every series name a replica's /metrics serves, with
// each metric touched once so that vectors show, and the _bucket, _sum
// and _count series of histograms.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	m.LongPolls(func() int { return 0 })
	m.LongPollLimit(1)
	m.EtcdConnected(func() time.Duration { return 0 })
	m.Request("/v1/clusters", "GET", 200, time.Millisecond)
	m.Heartbeat("ok", time.Millisecond)
	m.Heartbeat("BROKER_NEED_TO_BE_REGISTERED", time.Millisecond)
	m.Election("master-lost", "elected")
	m.Failover("master-lost", time.Millisecond)
	m.Scanned(1, 1, 0)
	m.EtcdRequest("Txn", time.Millisecond)
	m.AuthFailure("unknown-token")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		names[n] = true
		if f.GetType().String() == "HISTOGRAM" || f.GetType().String() == "SUMMARY" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = true
			}
		}
	}
	return names
}

// selectors returns the metric names expr selects; it fails the test
// when expr does not parse or selects series without naming them.
func selectors(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("%s: %q selects series by labels only", where, expr)
		}
		out = append(out, name)
		return nil
	})
	return out
}

func requireExported(t *testing.T, where string, names []string, have map[string]bool) {
	t.Helper()
	for _, n := range names {
		if !have[n] && !prometheusOwn[n] {
			t.Errorf("%s: %s is not a metric the controller exports", where, n)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertRules: the rule file decodes strictly in Prometheus's rule
// format, every expression parses as PromQL and names only metrics the
// controller exports (or Prometheus's own up), every alert has a
// severity, a summary and a valid for, and the six alerts are there.
func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(data, &rf); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	have := exported(t)
	alerts := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Record != "" {
				t.Errorf("group %s: rule %+v is not an alert", g.Name, r)
				continue
			}
			alerts[r.Alert] = r.Expr
			requireExported(t, r.Alert, selectors(t, r.Alert, r.Expr), have)
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want a severity label and summary and description annotations", r.Alert)
			}
		}
	}
	for alert, metric := range map[string]string{
		"LedgerlessGroupWithoutMaster":     "ledgerless_groups_without_master",
		"LedgerlessFailoverRateHigh":       "ledgerless_elections_total",
		"LedgerlessEtcdUnreachable":        "ledgerless_etcd_connected_seconds",
		"LedgerlessReplicaDown":            "up",
		"LedgerlessAuthenticationFailures": "ledgerless_auth_failures_total",
		"LedgerlessLongPollLimit":          "ledgerless_longpoll_limit",
	} {
		if !strings.Contains(alerts[alert], metric) {
			t.Errorf("alert %s: %q, want one on %s", alert, alerts[alert], metric)
		}
	}
}

// grafanaVars are the dashboard's variables, replaced as Grafana does
// before a query reaches Prometheus.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$instance", ".*", "${datasource}", "prometheus")

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// TestDashboard: the dashboard is JSON, every panel query and variable
// query parses as PromQL and names only metrics the controller exports,
// and every metric the controller exports is shown by some panel.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard %q (uid %q) with %d panels", d.Title, d.UID, len(d.Panels))
	}
	have := exported(t)
	shown := map[string]bool{}
	for _, v := range d.Templating.List {
		q, _ := v.Query.(string)
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
			continue
		}
		requireExported(t, "variable "+v.Name, selectors(t, "variable "+v.Name, m[1]), have)
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			names := selectors(t, "panel "+p.Title, grafanaVars.Replace(target.Expr))
			requireExported(t, "panel "+p.Title, names, have)
			for _, n := range names {
				shown[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	for n := range have {
		if strings.HasPrefix(n, "ledgerless_") && !shown[n] && !shown[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] {
			t.Errorf("the dashboard shows no panel of %s", n)
		}
	}
}
