package settings

import (
	"runtime/debug"
	"strings"
)

// Version is a command's version: stamped, the -ldflags "-X main.version=..."
// value that make build sets from `git describe`; else the module version
// the Go toolchain recorded (a tag such as v0.2.0 after `go install
// ...@v0.2.0`, or a pseudo-version naming the commit after `go build` in a
// clone); else "dev" with the commit, its time and "+dirty" for
// uncommitted changes, as far as the build recorded them.
func Version(stamped string) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, when, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if revision == "" {
		return "dev"
	}
	detail := []string{revision[:min(12, len(revision))] + dirty}
	if when != "" {
		detail = append(detail, when)
	}
	return "dev (" + strings.Join(detail, ", ") + ")"
}
