package cli_test

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ledgerless/ledgerless/cli"
)

func TestConfigGetAndSet(t *testing.T) {
	base := newServer(t)

	golden(t, "config-get", run("--controller", base, "config", "get").ok(t))
	var y map[string]any
	if err := yaml.Unmarshal([]byte(run("--controller", base, "config", "get", "-o", "yaml").ok(t)), &y); err != nil {
		t.Fatalf("config get -o yaml: %v", err)
	}
	if y["defaultHeartbeatTimeoutMs"] != float64(10000) || y["paused"] != false {
		t.Errorf("config get -o yaml: %v", y)
	}

	c := jsonOf[configJSON](t, run("--controller", base, "-o", "json", "config", "set",
		"enableElectUncleanMaster=true", "PAUSED=yes", "pausedGroups=c1/g1, c1/g2", "defaultHeartbeatTimeoutMs=5000").ok(t))
	want := configJSON{EnableElectUncleanMaster: true, Paused: true, PausedGroups: []string{"c1/g1", "c1/g2"}, DefaultHeartbeatTimeoutMs: 5000}
	if !equalConfig(c, want) {
		t.Errorf("config set: %+v, want %+v", c, want)
	}

	// KEY= and KEY=null reset to the defaults.
	c = jsonOf[configJSON](t, run("--controller", base, "-o", "json", "config", "set",
		"enableElectUncleanMaster=", "paused=null", "pausedGroups=", "defaultHeartbeatTimeoutMs=null").ok(t))
	if want := (configJSON{PausedGroups: []string{}, DefaultHeartbeatTimeoutMs: 10000}); !equalConfig(c, want) {
		t.Errorf("config set resets: %+v, want %+v", c, want)
	}
	if out := run("--controller", base, "config", "set", "paused=false").ok(t); !strings.Contains(out, "paused                     false") {
		t.Errorf("config set table:\n%s", out)
	}

	// The controller's own checks: out of range is refused by it.
	run("--controller", base, "config", "set", "defaultHeartbeatTimeoutMs=1").
		fails(t, cli.ExitRefused, "Invalid request (INVALID_REQUEST): ")
}

func TestConfigSetUsage(t *testing.T) {
	base := newServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing KEY=VALUE"},
		{[]string{"paused"}, `"paused": want KEY=VALUE`},
		{[]string{"nosuchkey=1"}, `unknown key "nosuchkey"`},
		{[]string{"paused=maybe"}, "paused=maybe"},
		{[]string{"defaultHeartbeatTimeoutMs=10s"}, "defaultHeartbeatTimeoutMs=10s"},
		{[]string{"pausedGroups=c1"}, `"c1" is not cluster/group`},
		{[]string{"paused=true", "Paused=false"}, "paused is given twice"},
	} {
		r := run(append([]string{"--controller", base, "config", "set"}, tc.args...)...)
		r.fails(t, cli.ExitUsage, tc.want)
	}
	c := jsonOf[configJSON](t, run("--controller", base, "config", "get", "-o", "json").ok(t))
	if c.Paused {
		t.Errorf("a refused config set changed the config: %+v", c)
	}
}

func TestPauseResume(t *testing.T) {
	base := newServer(t)
	seed(t, base)
	config := func() configJSON {
		return jsonOf[configJSON](t, run("--controller", base, "config", "get", "-o", "json").ok(t))
	}

	// Pausing everything asks first, and needs --yes without a terminal.
	run("--controller", base, "pause").fails(t, cli.ExitUsage, "pass --yes")
	if r := (invocation{terminal: true, stdin: "n\n"}).run("--controller", base, "pause"); r.code != cli.ExitFailure {
		t.Errorf("pause answered no: exit %d: %v", r.code, r.err)
	}
	if config().Paused {
		t.Error("pause answered no paused anyway")
	}
	if out := (invocation{terminal: true, stdin: "y\n"}).run("--controller", base, "pause").ok(t); !strings.HasPrefix(out, "Paused automatic elections of every group.\n") {
		t.Errorf("pause answered yes: %s", out)
	}
	if out := run("--controller", base, "pause", "--yes").ok(t); !strings.HasPrefix(out, "Paused automatic elections of every group.\n") {
		t.Errorf("pause:\n%s", out)
	}
	if !config().Paused {
		t.Error("pause did not set paused")
	}
	if out := run("--controller", base, "group", "get", "c1", "g1").ok(t); !strings.Contains(out, "paused yes") {
		t.Errorf("group of a paused controller:\n%s", out)
	}
	run("--controller", base, "resume").ok(t)
	if config().Paused {
		t.Error("resume did not clear paused")
	}

	run("--controller", base, "pause", "c1", "g1").ok(t)
	run("--controller", base, "pause", "c1", "g2").ok(t)
	if out := run("--controller", base, "pause", "c1", "g1").ok(t); !strings.Contains(out, "c1/g1 is already paused.") {
		t.Errorf("pause twice:\n%s", out)
	}
	if c := config(); c.Paused || !slices.Equal(c.PausedGroups, []string{"c1/g1", "c1/g2"}) {
		t.Errorf("after pausing two groups: %+v", c)
	}
	if out := run("--controller", base, "groups", "c1").ok(t); strings.Count(out, "yes") != 2 {
		t.Errorf("groups with both paused:\n%s", out)
	}
	c := jsonOf[configJSON](t, run("--controller", base, "resume", "c1", "g1", "-o", "json").ok(t))
	if !slices.Equal(c.PausedGroups, []string{"c1/g2"}) {
		t.Errorf("resume c1 g1: %+v", c)
	}
	run("--controller", base, "resume", "c1", "g2").ok(t)
	if c := config(); len(c.PausedGroups) != 0 {
		t.Errorf("after resuming both: %+v", c)
	}
	run("--controller", base, "pause", "c1").fails(t, cli.ExitUsage, "missing GROUP")
}

func equalConfig(a, b configJSON) bool {
	return a.EnableElectUncleanMaster == b.EnableElectUncleanMaster && a.Paused == b.Paused &&
		slices.Equal(a.PausedGroups, b.PausedGroups) && a.DefaultHeartbeatTimeoutMs == b.DefaultHeartbeatTimeoutMs
}
