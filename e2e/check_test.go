package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
)

// TestViolations feeds the invariant checker histories with one fault
// each, and a good one: it must name every fault and nothing else.
func TestViolations(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ctl := func(ms int, epoch, master int64, set ...int64) observation {
		return observation{At: at(ms), Group: "g1", Source: controllerSource, Epoch: epoch, Master: master, SyncStateSet: set}
	}
	brk := func(ms int, id int64, role ledgerless.Role, epoch, master int64, set ...int64) observation {
		return observation{At: at(ms), Group: "g1", Source: "g1-b" + string(rune('0'+id)), Broker: id, Role: role,
			Epoch: epoch, Master: master, SyncStateSet: set}
	}
	entry := func(epoch, offset int64, payload string) brokersim.Entry {
		return brokersim.Entry{Epoch: epoch, Offset: offset, Payload: payload}
	}
	entries := []brokersim.Entry{entry(1, 0, "m-1"), entry(1, 1, "m-2"), entry(2, 2, "m-3")}
	acks := map[string][]brokersim.Ack{"g1": {{Payload: "m-1", Epoch: 1, Offset: 0}, {Payload: "m-3", Epoch: 2, Offset: 2}}}
	good := func() *history {
		return &history{
			observations: []observation{
				ctl(0, 1, 1, 1, 2), brk(1, 1, ledgerless.RoleMaster, 1, 1, 1, 2), brk(2, 2, ledgerless.RoleSlave, 1, 1, 1, 2),
				ctl(10, 2, 2, 2), brk(11, 2, ledgerless.RoleMaster, 2, 2, 2),
				brk(12, 1, ledgerless.RoleMaster, 1, 1, 1, 2), // stale, but of its own epoch
				brk(13, 1, ledgerless.RoleSlave, 2, 2, 2), ctl(20, 3, 0, 2), ctl(30, 4, 2, 2),
			},
			acks:      acks,
			logs:      []brokerLog{{"g1", "g1-b2", entries}},
			truncated: map[string][]brokersim.Entry{"g1": {entry(1, 2, "m-x")}},
		}
	}
	if v := good().violations(); len(v) != 0 {
		t.Fatalf("a good history has violations:\n%s", strings.Join(v, "\n"))
	}
	for _, tc := range []struct {
		name  string
		fault func(h *history)
		want  string
	}{
		{"two brokers master at one epoch", func(h *history) {
			h.observations = append(h.observations, brk(40, 1, ledgerless.RoleMaster, 2, 1, 1, 2))
		}, "2 masters in g1 at masterEpoch 2"},
		{"controller and broker disagree", func(h *history) {
			h.observations = append(h.observations, brk(40, 1, ledgerless.RoleMaster, 4, 1, 1, 2))
		}, "2 masters in g1 at masterEpoch 4"},
		{"slave follows another master", func(h *history) {
			h.observations = append(h.observations, brk(40, 3, ledgerless.RoleSlave, 1, 3, 1, 3))
		}, "2 masters in g1 at masterEpoch 1"},
		{"controller epoch goes down", func(h *history) {
			h.observations = append(h.observations, ctl(40, 3, 0, 2))
		}, "masterEpoch went down"},
		{"broker epoch goes down", func(h *history) {
			h.observations = append(h.observations, brk(40, 2, ledgerless.RoleSlave, 1, 1, 1, 2))
		}, "masterEpoch went down"},
		{"controller's master outside the set", func(h *history) {
			h.observations = append(h.observations, ctl(40, 5, 1, 2))
		}, "master outside its SyncStateSet"},
		{"broker master outside its set", func(h *history) {
			h.observations = append(h.observations, brk(40, 2, ledgerless.RoleMaster, 4, 2, 1))
		}, "master outside its SyncStateSet"},
		{"acknowledged message missing", func(h *history) {
			h.logs[0].entries = h.logs[0].entries[:2]
		}, "acknowledged m-3 (epoch 2, offset 2) missing from g1-b2's log"},
		{"acknowledged message replaced", func(h *history) {
			h.logs = append(h.logs, brokerLog{"g1", "g1-b1", []brokersim.Entry{entry(1, 0, "m-1"), entry(1, 1, "m-2"), entry(1, 2, "m-3")}})
		}, "acknowledged m-3 (epoch 2, offset 2) missing from g1-b1's log"},
		{"acknowledged message truncated", func(h *history) {
			h.truncated["g1"] = append(h.truncated["g1"], entry(1, 0, "m-1"))
		}, "acknowledged m-1 (epoch 1, offset 0) was truncated"},
	} {
		h := good()
		tc.fault(h)
		v := h.violations()
		if len(v) != 1 || !strings.Contains(v[0], tc.want) {
			t.Errorf("%s: violations %q, want one with %q", tc.name, v, tc.want)
		}
	}
}
