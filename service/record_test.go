package service_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// fakeClock is the replica's clock, advanced by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func clockedReplica(t *testing.T) (*replica, *fakeClock) {
	clock := &fakeClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	return startReplicaWith(t, storetest.Prefix(t), service.Options{ReplicaID: "r1", Reconcile: time.Hour, Now: clock.Now}), clock
}

// TestRecordedOffsetsAreNoOlderThanTheBound sends a heartbeat a second
// (by the replica's clock) with a maxOffset that grows every time, and
// checks after each what etcd recorded: the data of a heartbeat received
// less than a third of the timeout before the latest, exactly as sent
// then; a new epoch, a new electionPriority and a change of the
// SyncStateSet recorded with the heartbeat that brings them; and fewer
// than 0.34 writes per heartbeat (each distinct recorded lastHeartbeat is
// one write).
func TestRecordedOffsetsAreNoOlderThanTheBound(t *testing.T) {
	r, clock := clockedReplica(t)
	g := key("g")
	const timeout = 10 * time.Second
	register(t, r, g, "m", timeout)
	id := register(t, r, g, "s", timeout)
	sent := map[time.Time]ledgerless.HeartbeatData{}
	writes := map[time.Time]bool{}
	const beats = 60
	for i := range beats {
		now := clock.advance(time.Second)
		d := ledgerless.HeartbeatData{Epoch: 1, MaxOffset: int64(1000 * (i + 1)), ConfirmOffset: int64(1000 * i)}
		switch {
		case i >= 40:
			d.Epoch = 2
		case i >= 20:
			d.ElectionPriority = 5
		}
		if i == 30 {
			inSync(t, r, g, 1, id)
		}
		heartbeat(t, r, g, id, d)
		sent[now] = d
		b, _ := group(t, r, g).Broker(id)
		writes[b.LastHeartbeat] = true
		if age := now.Sub(b.LastHeartbeat); age < 0 || age >= timeout/3 {
			t.Fatalf("heartbeat %d: etcd's record is from %s before the latest heartbeat; the bound is %s", i, age, timeout/3)
		}
		if want, ok := sent[b.LastHeartbeat]; !ok || b.Heartbeat != want {
			t.Fatalf("heartbeat %d: recorded %+v at %s, but the heartbeat received then sent %+v", i, b.Heartbeat, b.LastHeartbeat, want)
		}
		if (i == 0 || i == 20 || i == 30 || i == 40) && !b.LastHeartbeat.Equal(now) {
			t.Fatalf("heartbeat %d (newly alive, new priority, in sync, new epoch) was not recorded at once: %+v at %s", i, b.Heartbeat, b.LastHeartbeat)
		}
	}
	if n := len(writes); float64(n)/beats > 0.34 {
		t.Fatalf("%d of %d heartbeats wrote their data; at most 0.34 per heartbeat expected at a 1 s interval and a 10 s timeout", n, beats)
	}
	if n := len(writes); n < beats/4 {
		t.Fatalf("only %d of %d heartbeats wrote: the data is not refreshed every third of the timeout", n, beats)
	}
}

// TestElectionUsesFresherHeardData: etcd recorded slave 2 ahead of slave
// 3, but this replica has since received a heartbeat of slave 3 with a
// larger maxOffset, not yet written (within the bound). When the master
// resigns, the replica elects slave 3: its own data is fresher than
// etcd's copy.
func TestElectionUsesFresherHeardData(t *testing.T) {
	r, clock := clockedReplica(t)
	g := key("g")
	const timeout = 10 * time.Second
	register(t, r, g, "m", timeout)
	two := register(t, r, g, "s2", timeout)
	three := register(t, r, g, "s3", timeout)
	inSync(t, r, g, 1, two, three)
	clock.advance(time.Second)
	heartbeat(t, r, g, two, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 500})
	heartbeat(t, r, g, three, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 400})
	clock.advance(time.Second)
	heartbeat(t, r, g, three, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 600})
	if b, _ := group(t, r, g).Broker(three); b.Heartbeat.MaxOffset != 400 {
		t.Fatalf("etcd recorded broker 3's maxOffset %d, want 400 (the 600 is within the bound and not written)", b.Heartbeat.MaxOffset)
	}
	if err := r.Resign(ctxT(t), g, 1); err != nil {
		t.Fatal(err)
	}
	if st := group(t, r, g).State; st.MasterBrokerID != three {
		t.Fatalf("elected %d; broker 3 is in sync and the replica heard it at maxOffset 600 > broker 2's 500", st.MasterBrokerID)
	}
}
