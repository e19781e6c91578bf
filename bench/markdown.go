package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ledgerless/ledgerless/store"
)

// WriteMarkdown writes the report as BENCHMARKS.md: the machine, every
// table with what it measures, the `go test -bench` output, the heartbeat
// path's design and the cost model.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	e := rep.Env
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Benchmarks\n\n")
	p("Measured by `ledgerless bench` (`make bench`) on %s: %d CPUs%s, %s, %s, etcd %s (embedded). ",
		e.Date.Format("2006-01-02"), e.CPUs, paren(e.CPUModel), e.OS, e.GoVersion, e.EtcdVersion)
	p("The run took %s%s:\n\n```sh\n%s\n```\n\n", e.Elapsed.Round(time.Second), e.load(), e.Command)
	p("The controller runs as a child `ledgerless serve` process with its embedded etcd, as in production; " +
		"the load generator (HTTP/1.1 keep-alive clients, like brokers) and the raw etcd client run in the bench " +
		"process against the same etcd. Every figure comes from this one run: compare the ratios, which set " +
		"systems measured back to back against each other, rather than absolute times, which depend on the machine " +
		"and on what else it was doing.\n\n")

	if rep.Env.Partial {
		p("This run measured only some phases; `ledgerless bench --phases` merged their sections into the report of an earlier run. ")
		p("Sections it wrote say so.\n\n")
	}
	rep.writeHeartbeats(w)
	rep.writeFailovers(w)
	rep.writeFanout(w)
	rep.writeMemory(w)
	rep.writeRocketMQHeartbeat(w)

	if rep.Micro != "" {
		p("## Micro-benchmarks\n\n`go test -run '^$' -bench . -benchmem ./election ./store`: the election policy and the record encoding.\n\n")
		p("```\n%s\n```\n\n", strings.TrimSpace(rep.Micro))
	}
	if len(rep.Heartbeat) > 0 {
		rep.writeDesign(w)
	}
	if rep.Memory.Brokers > 0 {
		rep.writeCostModel(w)
	}
	return nil
}

// measuredBy is the line a section of a partial run starts with.
func (rep *Report) measuredBy(w io.Writer) {
	if rep.Env.Partial {
		fmt.Fprintf(w, "*Measured on %s by `%s` (%d CPUs%s%s).*\n\n", rep.Env.Date.Format("2006-01-02"), rep.Env.Command,
			rep.Env.CPUs, paren(rep.Env.CPUModel), rep.Env.load())
	}
}

func (rep *Report) writeHeartbeats(w io.Writer) {
	if len(rep.Heartbeat) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Heartbeats\n\n")
	rep.measuredBy(w)
	p("Each heartbeat broker (three per group, heartbeat timeout %.0f s) heartbeats in turn, as fast as the system answers, with a larger "+
		"maxOffset every time, as an active broker's does; a ledgerless heartbeat writes that data only when it matters or once a third "+
		"of the timeout has passed (see the design section), so here it mostly renews the lease and reads. The raw baselines do the naive equivalent "+
		"with the etcd client at the same concurrency: *Put+KeepAliveOnce* writes a liveness record of the same size under the "+
		"broker's lease and renews the lease once; *Put* only writes. Each size runs %d round(s) of the three systems back "+
		"to back; etcd's work per heartbeat comes from etcd's own metrics, CPU from the processes' own accounting.\n\n",
		heartbeatTTL.Seconds(), rep.Env.Rounds)
	rep.heartbeatTable().markdown(w)
	rep.ratioTable().markdown(w)
}

func (rep *Report) writeFailovers(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if len(rep.Failover) > 0 {
		rep.writeFailover(w)
	}
	if len(rep.RocketMQFailover) > 0 {
		p("## Failover of RocketMQ-protocol brokers\n\n")
		rep.measuredBy(w)
		rep.writeRocketMQFailover(w)
	}
}

func (rep *Report) writeFailover(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Failover\n\n")
	rep.measuredBy(w)
	p("Each trial registers a master and a slave (heartbeat timeout 2 s, a heartbeat every %d ms), puts both in the SyncStateSet, "+
		"has the slave long-poll its group, and loses the master. The clock stops when the long poll answers with the slave as master. "+
		"For expiry the clock starts when an independent etcd watch sees the master's alive key deleted; etcd's own expiry "+
		"granularity (its lessor checks for expired leases every 500 ms) is the separate last row, measured from the last renewal's "+
		"answer plus the TTL. With fewer than 100 trials, p99 is the maximum.\n\n", beatEvery.Milliseconds())
	p("*kill -9* loses a real master: two `brokersim serve` processes (REST, heartbeat timeout %s, a heartbeat every %s) "+
		"instead of the bench's own heartbeats, and the master's process is sent SIGKILL; the clock starts with the signal. "+
		"A broker's long poll holds its connection to the controller, whose close when the process dies is the crash suspicion "+
		"that fails it over at once; without that suspicion it waits for the lease (see docs/crash.md). The last column is the "+
		"stock DLedger controller's figure for the same loss and timeout, measured with stock 5.3.3 brokers on this kind of machine "+
		"(not in this run: an anchor, not a ratio).\n\n", failoverTTL, beatEvery)
	if l := rep.Loaded; l != nil {
		p("The last two rows run the %s trials again with %s groups present that need no election: half master-less (their one "+
			"broker's lease ran out and nobody can replace it), half paused with a dead master. The reconcile, every second, "+
			"scans every group but asks for an election only where one could change something, and elections run in parallel, "+
			"each within a deadline, so these groups must not delay a failover elsewhere: the ratio to the same trials without "+
			"them, in the same run, is the figure (target within 10%%).\n\n", l.Mode, count(float64(l.Groups)))
	}
	rep.failoverTable().markdown(w)
}

func (rep *Report) writeFanout(w io.Writer) {
	if len(rep.Fanout) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Long-poll fan-out\n\n")
	rep.measuredBy(w)
	p("Every long poll waits on the same group (the worst case: in a deployment each group has two or three), with one " +
		"HTTP/1.1 keep-alive connection each, as a broker does: it reads the group, long-polls from the index it read, and keeps " +
		"its connection. The bench raises nothing but checks the open-file limit (Go raises its soft limit to the hard one; " +
		"`ulimit -Hn` must exceed the long polls) and opens connections in batches below the listen backlog. One switchover " +
		"(`POST …/elect`) then wakes them all. The clock starts when the switchover is sent, so every figure includes the " +
		"switchover's own commit (an etcd transaction and its fsync), whose share the first answer bounds; it stops for each " +
		"long poll once it has read the whole answer: status 200, an X-Ledgerless-Index above the one polled from, and a body " +
		"of Content-Length bytes that names the new master. The controller starts one read of the group when its watch sees " +
		"the change, encodes the group once, and wakes each long poll only to write those bytes, so what each answer costs is " +
		"mostly net/http's own work and the write to its connection. The load generator stands in for brokers on other " +
		"machines with the least an HTTP/1.1 client can do (one goroutine and one buffer per connection, no pool), but it " +
		"shares this machine's CPUs with the controller; its CPU per answer is the last column. The raw baseline is what " +
		"brokers would do with etcd directly: as many etcd clients, each with a connection of its own, each watching one key " +
		"(the group's state), and one Put of the very bytes of the controller's answer wakes them all; its clock runs from the " +
		"Put being sent to each watch's event. The last row divides ledgerless's figures by etcd's.\n\n")
	rep.fanoutTable().markdown(w)
}

func (rep *Report) writeMemory(w io.Writer) {
	if rep.Memory.Brokers == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Memory and storage\n\n")
	rep.measuredBy(w)
	p("Every heartbeat broker is registered and heartbeats through a second replica that uses the first one's etcd, so that "+
		"its memory is the controller's alone; the first replica's includes its embedded etcd. Here the brokers heartbeat at "+
		"RocketMQ's cadence, each once every %s with a %s timeout, spread evenly, for %s; etcd's work per heartbeat comes from "+
		"its own metrics. The figures are read at the end of the whole run, so etcd also holds what the heartbeat comparison's raw "+
		"baselines wrote. Per broker divides by the broker count.\n\n", steadyInterval, steadyTimeout, rep.Env.Steady)
	rep.memoryTable().markdown(w)
	rep.writeTargets(w)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// headline is the ledgerless and raw Put+KeepAliveOnce runs of the cell
// with the most brokers and the highest concurrency, the figures the cost
// model scales.
func (rep *Report) headline() (HeartbeatCell, bool) {
	if len(rep.Heartbeat) == 0 {
		return HeartbeatCell{}, false
	}
	return rep.Heartbeat[len(rep.Heartbeat)-1], true
}

func (rep *Report) writeDesign(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## How the heartbeat path is built\n\n")
	p("A heartbeat must renew the broker's lease (liveness), record its epoch and offsets (the election's input) and answer " +
		"with the group's state, linearizably. Done naively that is a write, a lease renewal on a new stream and a read per " +
		"heartbeat. The controller instead:\n\n")
	p("- caches each broker's registration, lease and data revision, so an ordinary heartbeat needs no read first " +
		"(`store.Member`); a stale cache fails a compare and is read afresh;\n")
	p("- renews leases over a few long-lived LeaseKeepAlive streams shared by the whole replica, one request per renewal, " +
		"instead of a stream per call (`store/keepalive.go`); liveness stays exact: a heartbeat renews only its own broker's lease, " +
		"once, and a broker that stops heartbeating expires on time;\n")
	p("- writes heartbeat data only when it matters: a new epoch or electionPriority, a broker newly alive, a change of its " +
		"group's master or SyncStateSet; otherwise once a third of the timeout has passed since the recorded lastHeartbeat. " +
		"etcd's copy is then never older than a third of the timeout plus one heartbeat interval, and the replica keeps the " +
		"latest data it received, which its elections rank candidates by (`docs/design-heartbeats.md`): candidates still come " +
		"from the SyncStateSet, so no acknowledged message can be lost;\n")
	p("- keeps etcd's history short: the embedded member compacts every %s to the revision of one period earlier, and "+
		"defragments once half of its database file is free (`store/compact.go`);\n", store.DefaultCompactionRetention)
	p("- calls a single-member embedded etcd in process, through etcd's own server-to-client adapters " +
		"(`store/inprocess.go`), so a renewal or a transaction costs no gRPC serialisation and no system calls; profiling " +
		"this benchmark showed that work as about a third of the controller's CPU per heartbeat (a member of a multi-member " +
		"cluster keeps gRPC, whose watches end when the member loses the leader);\n")
	p("- commits the compare-and-swaps of heartbeats that arrive together as one etcd transaction (group commit, up to 60 " +
		"heartbeats and 4 transactions in flight, `store.Beat`), which also reads each group's state for the answer; a batch whose " +
		"compares fail is retried heartbeat by heartbeat, so one stale broker never fails the others.\n\n")
	if c, ok := rep.headline(); ok && len(c.Runs) > 0 && c.Runs[0].Cost.Txns > 0 {
		p("At %s brokers and concurrency %d a heartbeat cost %.3f raft proposals on average (one in %.1f heartbeats), against %.2f "+
			"for the raw Put+KeepAliveOnce. Heartbeats never wake long polls: heartbeat data lives under its own key "+
			"prefix, which no controller watches (%.3f watch events per heartbeat).\n\n",
			count(float64(c.Brokers)), c.Concurrency, c.Runs[0].Cost.Txns, 1/c.Runs[0].Cost.Txns, c.Runs[1].Cost.Txns, c.Runs[0].Cost.Events)
	}
}

// load says what the machine's load average was, when known.
func (e Env) load() string {
	if e.LoadBefore == "" || e.LoadAfter == "" {
		return ""
	}
	return fmt.Sprintf(", load average %s at the start and %s at the end", e.LoadBefore, e.LoadAfter)
}
