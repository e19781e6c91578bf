package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command's --help names each flag's default once, and serve's
// lists only the replica's flags, none of the CLI's.
func TestHelp(t *testing.T) {
	root := newRoot()
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, line := range strings.Split(cmd.Flags().FlagUsages(), "\n") {
			if strings.Count(line, "default") > 1 {
				t.Errorf("%s --help names a default twice:\n%s", cmd.CommandPath(), line)
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)

	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"controller", "output", "token", "token-file", "cacert", "cert", "key", "timeout"} {
		if serve.Flags().Lookup(name) != nil {
			t.Errorf("serve takes the CLI's --%s", name)
		}
	}
	if usage := serve.UsageString(); strings.Contains(usage, "Global Flags") {
		t.Errorf("serve --help lists global flags:\n%s", usage)
	}
}
