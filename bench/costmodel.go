package bench

import (
	"fmt"
	"io"

	"github.com/ledgerless/ledgerless/store"
)

// heartbeatsPerSecond is a broker's heartbeat rate, RocketMQ's
// brokerHeartbeatInterval of 1 s.
const heartbeatsPerSecond = 1

// modelSizes are the deployments the cost model scales to.
var modelSizes = []int{1000, 10000, 100000}

// writeCostModel scales the measured per-heartbeat and per-broker costs
// to deployments of 1k, 10k and 100k brokers.
func (rep *Report) writeCostModel(w io.Writer) {
	m := rep.Memory
	if m.Brokers == 0 {
		return
	}
	hb := m.Cost
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	keys, live := float64(m.Keys)/float64(m.Brokers), float64(m.KeyBytes)/float64(m.Brokers)
	p("## Cost model\n\n")
	p("What one broker costs, from the memory run above (%s brokers, a heartbeat every %s, timeout %s; its CPU figures include "+
		"the HTTP work and etcd's background work, and so bound the cost from above):\n\n", count(float64(m.Brokers)), steadyInterval, steadyTimeout)
	table{header: []string{"cost", "per heartbeat", "per broker"}, rows: [][]string{
		{"etcd write transactions (raft proposals)", fmt.Sprintf("%.3f", hb.Txns), ""},
		{"keys written", fmt.Sprintf("%.2f", hb.Puts), ""},
		{"bytes written (keys and values)", bytesOf(hb.PutBytes), ""},
		{"lease renewals (served by the etcd leader, not replicated)", fmt.Sprintf("%.2f", hb.Renewals), ""},
		{"etcd write-ahead log", bytesOf(hb.WALBytes), ""},
		{"watch events", fmt.Sprintf("%.3f", hb.Events), ""},
		{"etcd history kept until the next compaction (keys written × a revision's bytes)", bytesOf(m.HistoryPerBeat), ""},
		{"etcd CPU", fmt.Sprintf("%.0f µs", m.EtcdCPU*1e6), ""},
		{"controller CPU", fmt.Sprintf("%.0f µs", m.ControllerCPU*1e6), ""},
		{"live keys in etcd (registration, liveness, heartbeat data; group state and history shared)", "", fmt.Sprintf("%.2f", keys)},
		{"live bytes in etcd", "", bytesOf(live)},
		{"controller replica memory (RSS)", "", bytesOf(m.PerBroker())},
	}}.markdown(w)
	p("Registrations, liveness changes and elections are rare next to heartbeats: each is one or two transactions of a few keys, " +
		"and one watch event per controller replica per changed key, which is what wakes long polls and elections.\n\n")

	p("At one heartbeat per broker per second (RocketMQ's brokerHeartbeatInterval) and the embedded etcd's compaction every %s "+
		"(history of up to %.0f s):\n\n", store.DefaultCompactionRetention, historyWindow)
	t := table{header: []string{"brokers", "heartbeats/s", "etcd txns/s", "keys written/s", "lease renewals/s", "WAL/s",
		"history between compactions", "etcd CPU", "controller CPU", "controller memory", "live data in etcd"}}
	for _, n := range modelSizes {
		rate := float64(n * heartbeatsPerSecond)
		t.rows = append(t.rows, []string{count(float64(n)), count(rate), count(rate * hb.Txns), count(rate * hb.Puts),
			count(rate * hb.Renewals), bytesOf(rate*hb.WALBytes) + "/s", bytesOf(rate * m.HistoryPerBeat * historyWindow),
			fmt.Sprintf("%.2f cores", rate*m.EtcdCPU), fmt.Sprintf("%.2f cores", rate*m.ControllerCPU),
			bytesOf(m.IdleRSS + float64(n)*m.PerBroker()), bytesOf(float64(n) * live)})
	}
	t.markdown(w)

	p("### When one etcd cluster stops being enough\n\n")
	p("Every write and every lease renewal goes through the etcd leader, so adding etcd members adds no heartbeat capacity " +
		"(each write must also reach a quorum); controller replicas, which are stateless, scale out. ")
	if m.EtcdCPU > 0 {
		p("Measured here, one etcd core sustains about %s heartbeats per second, so %s brokers per core at one heartbeat a second "+
			"(%s when every heartbeat wrote, 2026-11-25: %s). ", count(1/m.EtcdCPU), count(m.perCore()), count(todayBrokersPerCore),
			ratioOf(m.perCore(), todayBrokersPerCore))
	}
	if now, today := rep.perQuota(); now > 0 && rep.Env.QuotaBytes > 0 {
		p("etcd keeps every revision until it compacts: with up to %.0f s of history and a %s backend quota, etcd runs out of space "+
			"(and refuses writes with `mvcc: database space exceeded`) at about %s brokers", historyWindow, bytesOf(rep.Env.QuotaBytes), count(now))
		if today > 0 {
			p(", against %s when every heartbeat wrote and %.0f minutes were kept (%s)", count(today), todayWindow/60, ratioOf(now, today))
		}
		p(". ")
	}
	p("In practice:\n\n")
	p("- **1k brokers**: a small fraction of one etcd; the embedded etcd is fine.\n")
	p("- **10k brokers**: a few thousand keys written a second. Give etcd a disk with fast fsync; with an external etcd, set " +
		"`--auto-compaction-mode=periodic --auto-compaction-retention` to a minute or less, and defragment its members when " +
		"`etcd_mvcc_db_total_size_in_bytes` is well above `etcd_mvcc_db_total_size_in_use_in_bytes`.\n")
	p("- **100k brokers**: one etcd cluster, within its quota as the table shows; the etcd leader's CPU (lease renewals and " +
		"linearizable reads, besides the writes) is the budget to watch. Beyond, shard: one ledgerless deployment (controller " +
		"replicas and their etcd cluster) per set of RocketMQ clusters; no transaction ever spans two groups, so shards are " +
		"independent.\n\n")
}
