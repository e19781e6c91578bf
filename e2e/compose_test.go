package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestComposeConfig checks what a newcomer meets before any container
// runs: both compose files are valid for docker-compose (config -q, which
// needs no Docker daemon), and the README's demo commands find the
// master's container (broker ids, and so masters, follow the order in
// which the brokers happened to register) instead of naming one.
func TestComposeConfig(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fixed := regexp.MustCompile(`docker[- ]compose\s+(kill|stop|start|restart|pause)\s+(-\S+\s+)*broker-[a-z]+[0-9]`)
	for i, line := range strings.Split(string(readme), "\n") {
		if m := fixed.FindString(line); m != "" {
			t.Errorf("README.md:%d: %q names a broker container; which one is master depends on registration order (use group get --master-host)", i+1, m)
		}
	}
	if !strings.Contains(string(readme), "--master-host") {
		t.Error("README.md: the demo does not show group get --master-host")
	}

	if _, err := exec.LookPath("docker-compose"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("docker-compose is missing (.ci/run installs it)")
		}
		t.Skip("no docker-compose")
	}
	for _, file := range []string{"../docker-compose.yml", "../deployments/docker-compose.embedded.yml"} {
		if out, err := exec.Command("docker-compose", "-f", file, "config", "-q").CombinedOutput(); err != nil {
			t.Errorf("docker-compose -f %s config -q: %v\n%s", file, err, out)
		}
	}
}
