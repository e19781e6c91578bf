package client

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
)

func ptr(v int64) *int64 { return &v }

// TestObserveOrder feeds master states out of order, as answers from
// several replicas and two loops arrive: the view only moves forward, and
// role changes only come with a higher masterEpoch, the newest first.
func TestObserveOrder(t *testing.T) {
	b := &Broker{roles: make(chan View, 1), log: slog.New(slog.DiscardHandler)}
	// Before registration, a state (read by Group, say) cannot say whether
	// the broker is master: it is left for the registration's own.
	b.observe(state{master: ptr(2), epoch: 3, syncStateSet: []int64{2}, syncStateSetEpoch: 4})
	if v := b.View(); v.MasterEpoch != 0 || len(b.roles) != 0 {
		t.Fatalf("a state taken in before registration: %+v", v)
	}
	b.id = 2
	b.observe(state{master: ptr(1), address: "a:1", epoch: 3, syncStateSet: []int64{1, 2}, syncStateSetEpoch: 4})
	if v := <-b.roles; v.MasterEpoch != 3 || v.Role != ledgerless.RoleSlave || v.MasterBrokerID != 1 {
		t.Fatalf("first change: %+v", v)
	}
	// Older answers change nothing.
	b.observe(state{master: ptr(2), epoch: 2, syncStateSetEpoch: 9})
	b.observe(state{master: ptr(1), epoch: 3, syncStateSet: []int64{1}, syncStateSetEpoch: 3})
	// A newer SyncStateSet in the same epoch updates the view, silently.
	b.observe(state{master: ptr(1), address: "a:1", epoch: 3, syncStateSet: []int64{1}, syncStateSetEpoch: 5})
	select {
	case v := <-b.roles:
		t.Fatalf("role change without a new masterEpoch: %+v", v)
	default:
	}
	if v := b.View(); v.SyncStateSetEpoch != 5 || !slices.Equal(v.SyncStateSet, []int64{1}) {
		t.Fatalf("view: %+v", v)
	}
	// Two changes the receiver did not pick up: only the newer waits.
	b.observe(state{master: nil, epoch: 4, syncStateSet: []int64{1}, syncStateSetEpoch: 5})
	b.observe(state{master: ptr(2), address: "b:2", epoch: 5, syncStateSet: []int64{2}, syncStateSetEpoch: 6})
	b.observe(state{master: nil, epoch: 4, syncStateSet: []int64{1}, syncStateSetEpoch: 5})
	if v := <-b.roles; v.MasterEpoch != 5 || v.Role != ledgerless.RoleMaster || v.MasterAddress != "b:2" {
		t.Fatalf("pending change: %+v, want master at epoch 5", v)
	}
	select {
	case v := <-b.roles:
		t.Fatalf("a stale change was kept: %+v", v)
	default:
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: time.Second}
	for i, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		if d := b.next(); d < want/2 || d > want {
			t.Errorf("retry %d: %s, want within [%s, %s]", i, d, want/2, want)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %s", d)
	}
	long := backoff{base: time.Second, max: time.Hour}
	for range 100 {
		if d := long.next(); d <= 0 || d > time.Hour {
			t.Fatalf("delay %s out of range after many retries", d)
		}
	}
}
