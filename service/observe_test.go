package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
	"github.com/ledgerless/ledgerless/tracing"
)

// observer records what election.Observer is told.
type observer struct {
	mu        sync.Mutex
	elections map[[2]string]int
	failovers map[string][]time.Duration
}

func (o *observer) Election(reason, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.elections[[2]string{reason, outcome}]++
}

func (o *observer) Failover(reason string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failovers[reason] = append(o.failovers[reason], d)
}

func (o *observer) Scanned(int, int, int) {}

func attrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		out[kv.Key] = kv.Value
	}
	return out
}

// TestAutomaticElectionTrace checks that an election after a master's
// lease expired is a trace of its own, described by its attributes and
// linked to the span of the lease loss that caused it, and that it is
// counted and timed.
func TestAutomaticElectionTrace(t *testing.T) {
	const ttl = 2 * time.Second
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	obs := &observer{elections: map[[2]string]int{}, failovers: map[string][]time.Duration{}}
	// The reconcile is slow, so that the watch's lease loss is what elects.
	r := startReplicaWith(t, storetest.Prefix(t), service.Options{ReplicaID: "r1", Reconcile: time.Minute,
		TracerProvider: tp, Observer: obs})
	connected(t, ttl, r)
	g := key("g")
	pair(t, r, g, ttl)
	kill(t, r, g, 1)
	eventually(t, 10*time.Second, func() bool { return group(t, r, g).State.MasterBrokerID == 2 })

	var elect, lost sdktrace.ReadOnlySpan
	eventually(t, 10*time.Second, func() bool {
		for _, s := range rec.Ended() {
			a := attrs(s.Attributes())
			switch {
			case s.Name() == "ledgerless.elect" && a[tracing.Reason].AsString() == ledgerless.ReasonMasterLost:
				elect = s
			case s.Name() == "ledgerless.lease-lost" && a[tracing.BrokerID].AsInt64() == 1:
				lost = s
			}
		}
		return elect != nil && lost != nil
	})
	if elect.Parent().IsValid() {
		t.Errorf("the election's span has parent %v; want the root of a trace", elect.Parent())
	}
	want := map[attribute.Key]attribute.Value{
		tracing.Cluster: attribute.StringValue("c1"), tracing.Group: attribute.StringValue("g"),
		tracing.Reason: attribute.StringValue(ledgerless.ReasonMasterLost), tracing.Outcome: attribute.StringValue("elected"),
		tracing.MasterEpoch: attribute.Int64Value(2), tracing.BrokerID: attribute.Int64Value(2),
	}
	got := attrs(elect.Attributes())
	for k, v := range want {
		if got[k] != v {
			t.Errorf("election span %s = %v, want %v", k, got[k].Emit(), v.Emit())
		}
	}
	if la := attrs(lost.Attributes()); la[tracing.Revision].AsInt64() <= 0 || la[tracing.Group].AsString() != "g" {
		t.Errorf("lease-lost span attributes %v", lost.Attributes())
	}
	linked := false
	for _, l := range elect.Links() {
		linked = linked || l.SpanContext.Equal(lost.SpanContext())
	}
	if !linked {
		t.Errorf("the election's span links %v, not the lease loss %v", elect.Links(), lost.SpanContext())
	}

	obs.mu.Lock()
	defer obs.mu.Unlock()
	if n := obs.elections[[2]string{ledgerless.ReasonMasterLost, "elected"}]; n != 1 {
		t.Errorf("master-lost elections counted: %d, want 1 (all: %v)", n, obs.elections)
	}
	if f := obs.failovers[ledgerless.ReasonMasterLost]; len(f) != 1 || f[0] < 0 {
		t.Errorf("master-lost failovers timed: %v, want one", f)
	}
}
