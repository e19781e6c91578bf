package election

import (
	"time"

	"github.com/ledgerless/ledgerless"
)

// Heard is a broker's heartbeat data as a replica last received it. A
// replica writes a broker's data to etcd only when it matters (a new
// epoch or priority, a broker newly alive, a change of its group's
// state) and otherwise at most every third of the heartbeat timeout, so
// the replica that receives the heartbeats may know newer offsets than
// etcd's copy; the election uses them.
type Heard struct {
	Data ledgerless.HeartbeatData
	At   time.Time // when the replica received it
}

// freshest returns g with each broker's heartbeat data replaced by what
// heard holds for it, where that was received after etcd's copy was
// recorded and moves the data forward (a higher epoch, or a larger
// maxOffset in the same epoch; see HeartbeatData.Advance). Liveness,
// SyncStateSet and everything else stay as read from etcd: heard data
// only ranks the candidates that etcd's state admits.
//
// A group that a restore fenced is returned unchanged: its election waits
// for data recorded since the restore, and what a replica heard before
// the restore does not count as such.
func freshest(g ledgerless.Group, heard map[int64]Heard) ledgerless.Group {
	if len(heard) == 0 || g.State.Restored {
		return g
	}
	var brokers []ledgerless.Broker
	for i, b := range g.Brokers {
		h, ok := heard[b.ID]
		if !ok || !h.At.After(b.LastHeartbeat) {
			continue
		}
		next, forward := b.Heartbeat.Advance(h.Data)
		if !forward || next == b.Heartbeat {
			continue
		}
		if brokers == nil {
			brokers = append([]ledgerless.Broker(nil), g.Brokers...) // the caller's snapshot is not modified
		}
		brokers[i].Heartbeat, brokers[i].LastHeartbeat = next, h.At
	}
	if brokers != nil {
		g.Brokers = brokers
	}
	return g
}
