package remoting

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// startBroker applies for an id and registers a broker of c1/g1 at addr
// through c, as a stock broker starts.
func startBroker(t *testing.T, c *Client, addr string) int64 {
	t.Helper()
	names := Fields{{"clusterName", "c1"}, {"brokerName", "g1"}}
	next := invoke(t, c, Request(GetNextBrokerID, names, nil))
	id, ok := next.Ext.Int64("nextBrokerId")
	if next.Code != Success || !ok {
		t.Fatalf("1012: %+v", next)
	}
	apply := append(names, Field{"appliedBrokerId", fmt.Sprint(id)}, Field{"registerCheckCode", addr + ";1796324973603"})
	if resp := invoke(t, c, Request(ApplyBrokerID, apply, nil)); resp.Code != Success {
		t.Fatalf("1013: %+v", resp)
	}
	reg := append(names, Field{"brokerId", fmt.Sprint(id)}, Field{"brokerAddress", addr})
	if resp := invoke(t, c, Request(RegisterBroker, reg, nil)); resp.Code != Success || resp.Body == nil {
		t.Fatalf("1003: %+v", resp)
	}
	return id
}

func heartbeatRequest(id int64, addr string, timeoutMs int) *Command {
	return Request(BrokerHeartbeat, Fields{{"brokerId", fmt.Sprint(id)}, {"electionPriority", "2147483647"},
		{"confirmOffset", "0"}, {"heartbeatTimeoutMills", fmt.Sprint(timeoutMs)}, {"clusterName", "c1"},
		{"brokerAddr", addr}, {"epoch", "-1"}, {"maxOffset", "0"}, {"brokerName", "g1"}}, nil)
}

func countSpans(rec *tracetest.SpanRecorder, name string) int {
	n := 0
	for _, s := range rec.Ended() {
		if s.Name() == name {
			n++
		}
	}
	return n
}

// TestHeartbeatsFromEveryReplica: a stock broker heartbeats to every
// replica. The lease renewals (each one a "ledgerless.heartbeat" span,
// which renews the lease and at most writes the record) do not grow with
// the number of replicas, and the broker stays alive for three lease
// times after the renewing replica stops hearing from it, as long as the
// others do.
func TestHeartbeatsFromEveryReplica(t *testing.T) {
	prefix := storetest.Prefix(t)
	const n = 3
	var cs [n]*controller
	var recs [n]*tracetest.SpanRecorder
	var clients [n]*Client
	for i := range cs {
		recs[i] = tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recs[i]))
		cs[i] = startController(t, prefix, fmt.Sprintf("r%d", i+1), func(o *Options) { o.TracerProvider = tp })
		clients[i] = dial(t, cs[i].addr)
	}
	const addr, timeoutMs = "127.0.0.1:30911", 3000
	id := startBroker(t, clients[0], addr)
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	beat := func(to []int) {
		for _, i := range to {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := clients[i].Oneway(ctx, heartbeatRequest(id, addr, timeoutMs)); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
	}
	acts := func() (total int, most int) {
		for i, rec := range recs {
			c := countSpans(rec, "ledgerless.heartbeat")
			total += c
			if c > countSpans(recs[most], "ledgerless.heartbeat") {
				most = i
			}
		}
		return total, most
	}
	const interval = 100 * time.Millisecond
	sent := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(interval) {
		beat([]int{0, 1, 2})
		sent++
	}
	eventually(t, 5*time.Second, "broker alive", func() bool {
		b, ok := groupOf(t, cs[1].svc, g).Broker(id)
		return ok && b.Alive
	})
	total, renewer := acts()
	t.Logf("%d heartbeats sent to each of %d replicas; %d renewals in all (%d on the renewer r%d)", sent, n, total,
		countSpans(recs[renewer], "ledgerless.heartbeat"), renewer+1)
	if total > sent+sent/4 {
		t.Errorf("%d renewals for %d heartbeats per replica: the cost grows with the replicas", total, sent)
	}
	if c := cs[renewer].svc.Connections(g, id); c != 1 {
		t.Errorf("the renewer counts %d connections of the broker, want 1", c)
	}

	var others []int
	for i := range cs {
		if i != renewer {
			others = append(others, i)
		}
	}
	_ = clients[renewer].Close()
	eventually(t, 5*time.Second, "the renewer sees the connection close", func() bool { return cs[renewer].svc.Connections(g, id) == 0 })
	before, _ := acts()
	for end := time.Now().Add(3 * timeoutMs * time.Millisecond); time.Now().Before(end); time.Sleep(interval) {
		beat(others)
		grp := groupOf(t, cs[renewer].svc, g)
		if b, ok := grp.Broker(id); !ok || !b.Alive {
			t.Fatalf("the broker died while replicas %v received its heartbeats", others)
		}
	}
	after, _ := acts()
	if after == before {
		t.Error("nobody took over the renewals")
	}
}

// TestBrokerIDsNeverReused: ids come from the group's one counter, shared
// with REST brokers, and a group cleaned away and created again goes on
// counting; an id that is not the next one is refused.
func TestBrokerIDsNeverReused(t *testing.T) {
	c := startController(t, storetest.Prefix(t), "r1")
	cl := dial(t, c.addr)
	if id := startBroker(t, cl, "127.0.0.1:30911"); id != 1 {
		t.Fatalf("first id %d", id)
	}
	names := Fields{{"clusterName", "c1"}, {"brokerName", "g1"}}
	skip := append(names, Field{"appliedBrokerId", "5"}, Field{"registerCheckCode", "127.0.0.1:30931;1"})
	if resp := invoke(t, cl, Request(ApplyBrokerID, skip, nil)); resp.Code != 2014 {
		t.Errorf("applying id 5 when 2 is next: %s", ResponseName(resp.Code))
	}
	if resp := invoke(t, cl, Request(CleanBrokerData, names, nil)); resp.Code != Success {
		t.Fatalf("1011: %s %q", ResponseName(resp.Code), resp.Remark)
	}
	if id := startBroker(t, cl, "127.0.0.1:30921"); id != 2 {
		t.Errorf("after the group was cleaned, the next broker got id %d, want 2", id)
	}
}
