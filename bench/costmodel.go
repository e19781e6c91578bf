package bench

import (
	"fmt"
	"io"

	"github.com/ledgerless/ledgerless/store"
)

// heartbeatsPerSecond is a broker's heartbeat rate, RocketMQ's
// brokerHeartbeatInterval of 1 s.
const heartbeatsPerSecond = 1

// retention is how much history the embedded etcd keeps between
// compactions, in seconds.
var retention = store.DefaultCompactionRetention.Seconds()

// modelSizes are the deployments the cost model scales to.
var modelSizes = []int{1000, 10000, 100000}

// writeCostModel scales the measured per-heartbeat and per-broker costs
// to deployments of 1k, 10k and 100k brokers.
func (rep *Report) writeCostModel(w io.Writer) {
	c, ok := rep.headline()
	m := rep.Memory
	if !ok || len(c.Runs) == 0 || m.Brokers == 0 {
		return
	}
	hb := c.Runs[0].Cost
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	keys, live := float64(m.Keys)/float64(m.Brokers), float64(m.KeyBytes)/float64(m.Brokers)
	p("## Cost model\n\n")
	p("What one broker costs, from the figures above (heartbeats at %s brokers and concurrency %d; storage, memory and CPU "+
		"from the memory run, whose CPU figures include the HTTP work and so bound the cost from above):\n\n", count(float64(c.Brokers)), c.Concurrency)
	table{header: []string{"cost", "per heartbeat", "per broker"}, rows: [][]string{
		{"etcd write transactions (raft proposals)", fmt.Sprintf("%.3f", hb.Txns), ""},
		{"keys written", fmt.Sprintf("%.2f", hb.Puts), ""},
		{"bytes written (keys and values)", bytesOf(hb.PutBytes), ""},
		{"lease renewals (served by the etcd leader, not replicated)", fmt.Sprintf("%.2f", hb.Renewals), ""},
		{"etcd write-ahead log", bytesOf(hb.WALBytes), ""},
		{"watch events", fmt.Sprintf("%.3f", hb.Events), ""},
		{"etcd history kept until the next compaction", bytesOf(m.HistoryPerBeat), ""},
		{"etcd CPU", fmt.Sprintf("%.0f µs", m.EtcdCPU*1e6), ""},
		{"controller CPU", fmt.Sprintf("%.0f µs", m.ControllerCPU*1e6), ""},
		{"live keys in etcd (registration, liveness, heartbeat data; group state and history shared)", "", fmt.Sprintf("%.2f", keys)},
		{"live bytes in etcd", "", bytesOf(live)},
		{"controller replica memory (RSS)", "", bytesOf(m.PerBroker())},
	}}.markdown(w)
	p("Registrations, liveness changes and elections are rare next to heartbeats: each is one or two transactions of a few keys, " +
		"and one watch event per controller replica per changed key, which is what wakes long polls and elections.\n\n")

	p("At one heartbeat per broker per second (RocketMQ's brokerHeartbeatInterval) and the embedded etcd's %.0f-minute compaction:\n\n", retention/60)
	t := table{header: []string{"brokers", "heartbeats/s", "etcd txns/s", "keys written/s", "lease renewals/s", "WAL/s",
		"history between compactions", "etcd CPU", "controller CPU", "controller memory", "live data in etcd"}}
	for _, n := range modelSizes {
		rate := float64(n * heartbeatsPerSecond)
		t.rows = append(t.rows, []string{count(float64(n)), count(rate), count(rate * hb.Txns), count(rate * hb.Puts),
			count(rate * hb.Renewals), bytesOf(rate*hb.WALBytes) + "/s", bytesOf(rate * m.HistoryPerBeat * retention),
			fmt.Sprintf("%.2f cores", rate*m.EtcdCPU), fmt.Sprintf("%.2f cores", rate*m.ControllerCPU),
			bytesOf(m.IdleRSS + float64(n)*m.PerBroker()), bytesOf(float64(n) * live)})
	}
	t.markdown(w)

	p("### When one etcd cluster stops being enough\n\n")
	p("Every write and every lease renewal goes through the etcd leader, so adding etcd members adds no heartbeat capacity " +
		"(each write must also reach a quorum); controller replicas, which are stateless, scale out. ")
	if m.EtcdCPU > 0 {
		p("Measured here, one etcd core sustains about %s heartbeats per second, so %s brokers per core at one heartbeat a second. ",
			count(1/m.EtcdCPU), count(1/m.EtcdCPU/heartbeatsPerSecond))
	}
	if m.HistoryPerBeat > 0 && rep.Env.QuotaBytes > 0 {
		p("Heartbeat data is rewritten constantly and etcd keeps every revision until it compacts: with %.0f minutes of history "+
			"and a %s backend quota, etcd runs out of space (and refuses writes with `mvcc: database space exceeded`) at about %s brokers. ",
			retention/60, bytesOf(rep.Env.QuotaBytes), count(rep.Env.QuotaBytes/(m.HistoryPerBeat*retention*heartbeatsPerSecond)))
	}
	p("In practice:\n\n")
	p("- **1k brokers**: a small fraction of one etcd; the embedded etcd is fine.\n")
	p("- **10k brokers**: ten thousand keys written a second. Give etcd a disk with fast fsync, and keep the history between " +
		"compactions well inside the quota: with an external etcd, set `--auto-compaction-retention` to a few minutes and " +
		"`--quota-backend-bytes` with room for the history above.\n")
	p("- **100k brokers**: beyond one etcd leader's CPU and history budget. Shard: run one ledgerless deployment (controller " +
		"replicas and their etcd cluster) per set of RocketMQ clusters; no transaction ever spans two groups, so shards are " +
		"independent and brokers of a cluster simply point at their shard's controllers. Where brokers allow it, a longer heartbeat " +
		"interval (with the same timeout) divides every per-second figure above.\n\n")
}
