package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchSmoke runs `ledgerless bench` at toy sizes, as CI's smoke run:
// it must finish, print every table with a row for each thing measured,
// report progress, and write a report that ends with the cost model. It
// checks the shape of the output, never its figures.
func TestBenchSmoke(t *testing.T) {
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	cmd := exec.Command(binary, "bench", "--brokers", "9,18", "--concurrency", "2,4", "--duration", "200ms",
		"--rounds", "1", "--failover-trials", "2", "--pollers", "20", "--steady", "2s", "--out", out,
		"--brokersim", brokersimBinary, "--masterless", "20", "--rocketmq-brokers", "6", "--rocketmq-trials", "1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	table := stdout.String()
	for _, want := range []string{
		"9        2            ledgerless REST heartbeat", "18       4            etcd Put+KeepAliveOnce",
		"18       4            etcd Put ", "Headline", "resign", "revoke", "expiry", "(etcd itself)",
		"ledgerless long poll  20       20", "etcd Watch            20       20", // every waiter answered
		"ledgerless ÷ etcd",
		"Memory and storage: 18 brokers in 6 groups",
		"kill -9 ", "revoke, 20 master-less or paused groups present", "÷ the same without them",
		"Failover of RocketMQ-protocol brokers", "SIGSTOP  ", "10.0–11.8 s",
		"ledgerless, 904 to 3 replicas", "ledgerless, 904 to 1 replica", "3 replicas ÷ 1 replica",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	progress := stderr.String()
	for _, want := range []string{"starting the controller", "round 1/1", "memory:", "failover: expiry, 2 trials", "fan-out: 20 long polls", "fan-out: 20 etcd watches", "rocketmq failover: SIGSTOP, timeout 10s, 1 trials", "rocketmq heartbeat:", "report written"} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(string(md), "## Cost model"); i < 0 || strings.Contains(string(md[i:]), "\n## ") ||
		!strings.Contains(string(md[i:]), "| 100,000 |") {
		t.Errorf("the report does not end with the cost model:\n%s", md)
	}
}
