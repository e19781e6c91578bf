package bench

import (
	"fmt"
	"io"
)

func (rep *Report) rocketmqFailoverTable() table {
	t := table{title: "Failover of RocketMQ-protocol brokers: from the signal until the slave acts as master (goal for SIGSTOP: p99 ≤ timeout + 0.6 s)",
		header: []string{"master lost by", "heartbeat timeout", "trials", "p50", "p99", "max", "stock DLedger controller → new master", "goal"}}
	for _, f := range rep.RocketMQFailover {
		goal := ""
		if f.Mode == anchorStop {
			goal = "not met"
			if f.Latency.P99 <= f.Timeout+silentMargin {
				goal = "met"
			}
			goal = fmt.Sprintf("≤ %s: %s", ms(f.Timeout+silentMargin), goal)
		}
		t.rows = append(t.rows, []string{f.Mode, f.Timeout.String(), fmt.Sprint(f.Latency.N), ms(f.Latency.P50), ms(f.Latency.P99),
			ms(f.Latency.Max), anchors[f.Mode][f.Timeout], goal})
	}
	return t
}

func (rep *Report) writeRocketMQFailover(w io.Writer) {
	fmt.Fprintf(w, "Each trial starts a master and a slave, two `brokersim serve --protocol rocketmq` processes: stock RocketMQ 5.1.1+ "+
		"brokers' controller client, with controllerAddr listing three controller replicas (on one etcd), a heartbeat (904) to each every "+
		"second, as stock sends them. Once both are in the SyncStateSet the master's process is sent SIGKILL (its connections close: "+
		"the replicas see it die) or SIGSTOP (a silent failure: nothing closes, its lease runs out after the heartbeat timeout). The clock "+
		"runs from the signal until the slave's own status says it is master, which it learns from the controller's "+
		"NOTIFY_BROKER_ROLE_CHANGED (1008) or its 1004 poll. The stock column is the DLedger controller with stock 5.3.3 brokers, "+
		"measured on this kind of machine (2 CPUs): an anchor from another run, not a ratio. With fewer than 100 trials, p99 is the "+
		"maximum.\n\n")
	rep.rocketmqFailoverTable().markdown(w)
}

func (rep *Report) rocketmqHeartbeatTable() table {
	h := rep.RocketMQHeartbeat
	t := table{title: fmt.Sprintf("RocketMQ heartbeats: %s brokers, one heartbeat each per second for %s; etcd's work per broker-second (must not grow with the replicas reached)",
		count(float64(h.Brokers)), h.Duration),
		header: []string{"system", "heartbeats/s", "etcd txns", "keys written", "lease renewals", "WAL bytes", "CPU µs: controllers+etcd", "bench client", "errors"}}
	byName := map[string]RocketMQRun{}
	for _, r := range h.Runs {
		byName[r.System] = r
		c := r.PerBrokerSecond
		t.rows = append(t.rows, []string{r.System, count(r.Rate), fmt.Sprintf("%.3f", c.Txns), fmt.Sprintf("%.3f", c.Puts),
			fmt.Sprintf("%.3f", c.Renewals), count(c.WALBytes), fmt.Sprintf("%.0f", c.ServerCPU*1e6), fmt.Sprintf("%.0f", c.ClientCPU*1e6), fmt.Sprint(r.Errors)})
	}
	div := func(label string, a, b RocketMQRun) {
		x, y := a.PerBrokerSecond, b.PerBrokerSecond
		t.rows = append(t.rows, []string{label, "", ratioOf(x.Txns, y.Txns), ratioOf(x.Puts, y.Puts), ratioOf(x.Renewals, y.Renewals),
			ratioOf(x.WALBytes, y.WALBytes), ratioOf(x.ServerCPU, y.ServerCPU), "", ""})
	}
	one, ok1 := byName[sysRocketMQ1]
	three, ok3 := byName[sysRocketMQ3]
	raw, okr := byName[sysRawLease]
	if ok1 && ok3 {
		div("3 replicas ÷ 1 replica (target ≤ 1.0×)", three, one)
	}
	if ok3 && okr {
		div("3 replicas ÷ raw Put+KeepAliveOnce", three, raw)
	}
	return t
}

func (rep *Report) writeRocketMQHeartbeat(w io.Writer) {
	h := rep.RocketMQHeartbeat
	if h == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Heartbeats of RocketMQ-protocol brokers\n\n")
	rep.measuredBy(w)
	p("%s brokers, three per group, start as stock RocketMQ 5.1.1+ brokers in controller mode do (1012, 1013, 1003 to the "+
		"replica that names itself leader), each with a connection to each of three controller replicas on one etcd. Each then sends "+
		"its heartbeat, a oneway BROKER_HEARTBEAT (904) with stock's header (a larger maxOffset every time, "+
		"controllerHeartBeatTimeoutMills %d), once a second, spread evenly, for %s: first to all three replicas, as a stock broker "+
		"sends it to every controllerAddr, then to one only, each after a heartbeat timeout of the same to settle. The raw baseline "+
		"is the naive equivalent with the etcd client at the same broker count and rate: a Put of a liveness record under the "+
		"broker's lease and a KeepAliveOnce. etcd's work comes from etcd's own metrics and is divided by the broker-seconds "+
		"measured, so at one heartbeat a second it is the cost of one broker's heartbeat, however many replicas it reaches; CPU "+
		"adds the three replicas' processes (the first with its embedded etcd).\n\n",
		count(float64(h.Brokers)), steadyTimeout.Milliseconds(), h.Duration)
	rep.rocketmqHeartbeatTable().markdown(w)
}
