package election

import (
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
)

// restored fences g as a restore does: no master, the Restored mark.
func restored(g ledgerless.Group) ledgerless.Group {
	g.State.MasterBrokerID, g.State.MasterAddress, g.State.Restored = 0, "", true
	return g
}

// reported marks b as having reported to the restored state.
func reported(b ledgerless.Broker) ledgerless.Broker {
	b.LastHeartbeat = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return b
}

// A restored group elects only from brokers that reported since the
// restore, waits for all of them or for a heartbeat timeout, ignores the
// snapshot's SyncStateSet, and elects above every epoch a broker reported.
func TestDecideRestored(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want outcome
	}{
		{"restored/alive from the snapshot but not reported: wait a heartbeat timeout",
			auto(restored(grp(1, 1005, set(1, 2), 1007, alive(1, 4, 0), alive(2, 4, 0))), connectedFor(3*time.Second)),
			retryAfter(hbTimeout - 3*time.Second)},
		{"restored/one of two reported: wait for the other",
			auto(restored(grp(1, 1005, set(1, 2), 1007, reported(alive(1, 6, 10)), alive(2, 4, 0))), connectedFor(0)),
			retryAfter(hbTimeout)},
		{"restored/all reported: the best wins at once, above the reported epochs",
			auto(restored(grp(1, 1005, set(1, 2), 1007, reported(alive(1, 1009, 10)), reported(alive(2, 1009, 20)))), connectedFor(0)),
			elected(2, 1010, 1008, rNoMaster)},
		{"restored/the snapshot's SyncStateSet is ignored: an out-of-set broker with the newest data wins",
			auto(restored(grp(1, 1005, set(1), 1007, reported(alive(1, 4, 90)), reported(alive(2, 6, 20)))), connectedFor(0)),
			elected(2, 1006, 1008, rNoMaster)},
		{"restored/reported epochs below the fenced epoch: masterEpoch+1",
			auto(restored(grp(1, 1005, set(1, 2), 1007, reported(alive(1, 4, 10)), reported(alive(2, 5, 0)))), connectedFor(0)),
			elected(2, 1006, 1008, rNoMaster)},
		{"restored/a broker that never reports is waited for one heartbeat timeout only",
			auto(restored(grp(1, 1005, set(1, 2), 1007, reported(alive(1, 4, 10)), dead(2, 4, 0))), connectedFor(hbTimeout)),
			elected(1, 1006, 1008, rNoMaster)},
		{"restored/none reported after the timeout: stay fenced",
			auto(restored(grp(1, 1005, set(1, 2), 1007, alive(1, 4, 10), dead(2, 4, 0))), connectedFor(longConnect)),
			unchanged()},
		{"restored/a reported but dead broker is no candidate",
			auto(restored(grp(1, 1005, set(1, 2), 1007, reported(dead(1, 1009, 99)), reported(alive(2, 4, 0)))), connectedFor(longConnect)),
			elected(2, 1010, 1008, rNoMaster)},
		{"restored/paused: no election",
			auto(restored(grp(1, 1005, set(1, 2), 1007, reported(alive(1, 4, 10)), reported(alive(2, 4, 0)))), connectedFor(longConnect), pausedAll()),
			unchanged()},
		{"restored/admin may pick an alive broker outside the old SyncStateSet, above the reported epochs",
			admin(restored(grp(1, 1005, set(1), 1007, reported(alive(1, 1020, 10)), alive(2, 4, 0))), 2),
			elected(2, 1021, 1008, rAdmin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.in)
			checkDecision(t, tt.in, d, tt.want)
			if d.Change && d.Next.Restored {
				t.Errorf("Next.Restored = true after an election; the fence must be cleared")
			}
			if d.Change && d.Next.MasterEpoch <= tt.in.Group.State.MasterEpoch {
				t.Errorf("Next.MasterEpoch %d not above the fenced %d", d.Next.MasterEpoch, tt.in.Group.State.MasterEpoch)
			}
		})
	}
}
