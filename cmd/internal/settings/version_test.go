package settings

import (
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	if got := Version("v1.2.3"); got != "v1.2.3" {
		t.Errorf("stamped: got %q", got)
	}
	for _, c := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"tagged module", debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}}, "v0.2.0"},
		{"pseudo-version", debug.BuildInfo{Main: debug.Module{Version: "v0.2.1-0.20261204143500-133ddd0a1b2c+dirty"}},
			"v0.2.1-0.20261204143500-133ddd0a1b2c+dirty"},
		{"vcs only", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "133ddd0a1b2c3d4e5f60718293a4b5c6d7e8f901"},
			{Key: "vcs.time", Value: "2026-12-04T14:35:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "dev (133ddd0a1b2c+dirty, 2026-12-04T14:35:00Z)"},
		{"nothing recorded", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	} {
		if got := fromBuildInfo(&c.info); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
