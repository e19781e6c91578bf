package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ledgerless/ledgerless/cli"
)

// jsonOf decodes a command's JSON output.
func jsonOf[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return v
}

type groupJSON struct {
	Cluster           string  `json:"cluster"`
	Group             string  `json:"group"`
	MasterBrokerID    *int64  `json:"masterBrokerId"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
	Paused            bool    `json:"paused"`
	Brokers           []struct {
		BrokerID  int64 `json:"brokerId"`
		Alive     bool  `json:"alive"`
		InSync    bool  `json:"inSync"`
		MaxOffset int64 `json:"maxOffset"`
	} `json:"brokers"`
}

type configJSON struct {
	EnableElectUncleanMaster  bool     `json:"enableElectUncleanMaster"`
	Paused                    bool     `json:"paused"`
	PausedGroups              []string `json:"pausedGroups"`
	DefaultHeartbeatTimeoutMs int64    `json:"defaultHeartbeatTimeoutMs"`
}

func master(g groupJSON) int64 {
	if g.MasterBrokerID == nil {
		return 0
	}
	return *g.MasterBrokerID
}

func TestClusters(t *testing.T) {
	base := newServer(t)
	seed(t, base)
	register(t, base, "c2", "g9", "code-z", "10.0.9.1:10911")

	out := run("--controller", base, "clusters").ok(t)
	want := "CLUSTER  GROUPS\nc1       g1,g2\nc2       g9\n"
	if out != want {
		t.Errorf("clusters:\n%s\nwant:\n%s", out, want)
	}
	v := jsonOf[struct {
		Clusters []struct {
			Cluster string   `json:"cluster"`
			Groups  []string `json:"groups"`
		} `json:"clusters"`
	}](t, run("--controller", base, "clusters", "-o", "json").ok(t))
	if len(v.Clusters) != 2 || v.Clusters[0].Cluster != "c1" || strings.Join(v.Clusters[0].Groups, ",") != "g1,g2" {
		t.Errorf("clusters -o json: %+v", v)
	}
}

func TestGroups(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	golden(t, "groups", run("--controller", base, "groups", "c1").ok(t))

	v := jsonOf[struct {
		Groups []groupJSON `json:"groups"`
	}](t, run("--controller", base, "groups", "c1", "-o", "json").ok(t))
	if len(v.Groups) != 2 {
		t.Fatalf("groups -o json: %+v", v)
	}
	g1, g2 := v.Groups[0], v.Groups[1]
	if g1.Group != "g1" || master(g1) != 1 || g1.MasterEpoch != 1 || len(g1.SyncStateSet) != 2 || g1.SyncStateSetEpoch != 2 || len(g1.Brokers) != 2 {
		t.Errorf("g1: %+v", g1)
	}
	if g2.Group != "g2" || master(g2) != 1 || len(g2.Brokers) != 1 {
		t.Errorf("g2: %+v", g2)
	}

	var y map[string][]map[string]any
	if err := yaml.Unmarshal([]byte(run("--controller", base, "groups", "c1", "-o", "yaml").ok(t)), &y); err != nil {
		t.Fatalf("groups -o yaml: %v", err)
	}
	if len(y["groups"]) != 2 || y["groups"][0]["group"] != "g1" || y["groups"][0]["masterBrokerId"] != float64(1) {
		t.Errorf("groups -o yaml: %v", y)
	}
}

func TestGroupGet(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	golden(t, "group-get", run("--controller", base, "group", "get", "c1", "g1").ok(t))

	g := jsonOf[groupJSON](t, run("--controller", base, "group", "get", "c1", "g1", "-o", "json").ok(t))
	if g.Cluster != "c1" || g.Group != "g1" || master(g) != 1 || len(g.Brokers) != 2 ||
		!g.Brokers[1].Alive || !g.Brokers[1].InSync || g.Brokers[1].MaxOffset != 1000 {
		t.Errorf("group get -o json: %+v", g)
	}
	var y map[string]any
	if err := yaml.Unmarshal([]byte(run("--controller", base, "group", "get", "c1", "g1", "-o", "yaml").ok(t)), &y); err != nil {
		t.Fatalf("group get -o yaml: %v", err)
	}
	if y["group"] != "g1" || y["masterEpoch"] != float64(1) {
		t.Errorf("group get -o yaml: %v", y)
	}
}

func TestElectAndHistory(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	out := run("--controller", base, "elect", "c1", "g1", "--broker", "2", "--yes").ok(t)
	if !strings.Contains(out, "Elected broker 2 as master of c1/g1 (masterEpoch 2).") || !strings.Contains(out, "MASTER") {
		t.Errorf("elect --broker 2:\n%s", out)
	}
	run("--controller", base, "elect", "c1", "g1", "--broker", "2", "--yes").
		fails(t, cli.ExitRefused, "Master still exists (MASTER_STILL_EXIST): ")

	// Broker 1 catches up; a switchover without --broker picks it.
	call(t, "POST", base+"/v1/clusters/c1/groups/g1/sync-state-set",
		`{"masterBrokerId":2,"masterEpoch":2,"syncStateSet":[1,2],"syncStateSetEpoch":3}`)
	g := jsonOf[groupJSON](t, run("--controller", base, "elect", "c1", "g1", "--yes", "-o", "json").ok(t))
	if master(g) != 1 || g.MasterEpoch != 3 {
		t.Errorf("elect without --broker: %+v", g)
	}

	golden(t, "history", run("--controller", base, "history", "c1", "g1").ok(t))
	r := run("--controller", base, "history", "c1", "g1", "--limit", "1")
	if out := r.ok(t); strings.Count(out, "\n") != 2 || !strings.Contains(r.stderr, "--before 3") {
		t.Errorf("history --limit 1:\n%s\nstderr: %s", out, r.stderr)
	}
	if out := run("--controller", base, "history", "c1", "g1", "--before", "2").ok(t); !strings.Contains(out, "first-master") ||
		strings.Contains(out, "admin") {
		t.Errorf("history --before 2:\n%s", out)
	}
	h := jsonOf[struct {
		Items []struct {
			MasterEpoch int64  `json:"masterEpoch"`
			Reason      string `json:"reason"`
		} `json:"items"`
	}](t, run("--controller", base, "history", "c1", "g1", "-o", "json").ok(t))
	if len(h.Items) != 3 || h.Items[0].MasterEpoch != 3 || h.Items[2].Reason != "first-master" {
		t.Errorf("history -o json: %+v", h)
	}
}

func TestClean(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	run("--controller", base, "clean", "c1", "g1", "--broker", "2", "--yes").
		fails(t, cli.ExitRefused, "(INVALID_CLEAN_BROKER_METADATA): ")
	out := run("--controller", base, "clean", "c1", "g1", "--broker", "2", "--force", "--yes").ok(t)
	if out != "Removed broker 2 from c1/g1.\n" {
		t.Errorf("clean --broker 2 --force: %q", out)
	}
	res := jsonOf[struct {
		RemovedGroup bool `json:"removedGroup"`
	}](t, run("--controller", base, "clean", "c1", "g2", "--force", "--yes", "-o", "json").ok(t))
	if !res.RemovedGroup {
		t.Errorf("clean group -o json: %+v", res)
	}
	if out := run("--controller", base, "groups", "c1").ok(t); strings.Contains(out, "g2") || !strings.Contains(out, "1/1") {
		t.Errorf("after clean:\n%s", out)
	}
	run("--controller", base, "clean", "c1", "g2", "--yes").fails(t, cli.ExitRefused, "(BROKER_METADATA_NOT_EXIST)")
}

func TestConfirmation(t *testing.T) {
	base := newServer(t)
	seed(t, base)

	run("--controller", base, "clean", "c1", "g1", "--broker", "2", "--force").fails(t, cli.ExitUsage, "pass --yes")
	run("--controller", base, "elect", "c1", "g1", "--broker", "2").fails(t, cli.ExitUsage, "pass --yes")

	no := invocation{terminal: true, stdin: "n\n"}.run("--controller", base, "elect", "c1", "g1", "--broker", "2")
	no.fails(t, cli.ExitFailure, "aborted")
	if !strings.Contains(no.stderr, "This elects broker 2 as master of c1/g1.\nProceed? [y/N] ") {
		t.Errorf("prompt: %q", no.stderr)
	}
	invocation{terminal: true}.run("--controller", base, "clean", "c1", "g2", "--force").fails(t, cli.ExitUsage, "stdin ended")
	yes := invocation{terminal: true, stdin: "y\n"}.run("--controller", base, "elect", "c1", "g1", "--broker", "2")
	if out := yes.ok(t); !strings.Contains(out, "Elected broker 2") {
		t.Errorf("elect after y:\n%s", out)
	}
}

func TestController(t *testing.T) {
	base := newServer(t)
	golden(t, "controller", run("--controller", base, "controller").ok(t))

	v := jsonOf[struct {
		Replicas []struct {
			ID      string `json:"id"`
			Address string `json:"address"`
			Alive   bool   `json:"alive"`
		} `json:"replicas"`
		Etcd struct {
			Endpoints []string `json:"endpoints"`
		} `json:"etcd"`
	}](t, run("--controller", base, "controller", "-o", "json").ok(t))
	if len(v.Replicas) != 1 || v.Replicas[0].ID != "r1" || v.Replicas[0].Address != base || !v.Replicas[0].Alive || len(v.Etcd.Endpoints) == 0 {
		t.Errorf("controller -o json: %+v", v)
	}
}

func TestVersion(t *testing.T) {
	if out := run("version").ok(t); out != "ledgerless 1.2.3-test\n" {
		t.Errorf("version: %q", out)
	}
	if v := jsonOf[map[string]string](t, run("version", "-o", "json").ok(t)); v["version"] != "1.2.3-test" {
		t.Errorf("version -o json: %v", v)
	}
}
