package bench

import (
	"fmt"
	"time"
)

// The stock DLedger controller's figures, which the failovers of real
// broker processes are set beside: RocketMQ 5.3.3's own controller and
// brokers, measured on this kind of machine (2 CPUs), from the signal to
// the new master, as ranges over the trials. They cannot be measured in
// the same run (no JVM here); they are anchors, not ratios.
const (
	anchorKill = "kill -9"
	anchorStop = "SIGSTOP"
)

var anchors = map[string]map[time.Duration]string{
	anchorKill: {2 * time.Second: "54–91 ms", 10 * time.Second: "52–173 ms"},
	anchorStop: {2 * time.Second: "2.0–4.1 s", 10 * time.Second: "10.0–11.8 s"},
}

// anchorFor is the stock figure for a master lost by loss at heartbeat
// timeout ttl, or "" when there is none.
func anchorFor(loss string, ttl time.Duration) string {
	if a, ok := anchors[loss][ttl]; ok {
		return fmt.Sprintf("%s (stock 5.3.3, timeout %s)", a, ttl)
	}
	return ""
}

// silentMargin is the goal for a silent failure (SIGSTOP): a new master
// acting as master within the heartbeat timeout plus this, at p99.
const silentMargin = 600 * time.Millisecond
