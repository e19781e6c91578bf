package election

import (
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
)

// TestDecideRanksByHeardData: what the deciding replica heard ranks the
// candidates when it is newer than etcd's copy and moves it forward, and
// changes nothing else: liveness and the SyncStateSet come from etcd, so
// heard data can only pick among the in-sync candidates etcd admits.
func TestDecideRanksByHeardData(t *testing.T) {
	recorded := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(b ledgerless.Broker) ledgerless.Broker { b.LastHeartbeat = recorded; return b }
	later, earlier := recorded.Add(2*time.Second), recorded.Add(-time.Second)
	// Master 1 is dead; 2 and 3 are in sync, 2 ahead in etcd; 4 is alive,
	// out of sync and furthest ahead; 5 is in sync but dead.
	g := grp(1, 3, set(1, 2, 3, 5), 4, dead(1, 3, 900), at(alive(2, 3, 500)), at(alive(3, 3, 400)), at(alive(4, 3, 800)), at(dead(5, 3, 100)))
	heard := func(hs map[int64]Heard) inputOpt { return func(in *Input) { in.Heard = hs } }
	cases := []struct {
		name  string
		heard map[int64]Heard
		want  int64
	}{
		{"none: etcd's copy", nil, 2},
		{"fresher and ahead wins the tie", map[int64]Heard{3: {ledgerless.HeartbeatData{Epoch: 3, MaxOffset: 600}, later}}, 3},
		{"a new epoch", map[int64]Heard{3: {ledgerless.HeartbeatData{Epoch: 4, MaxOffset: 1}, later}}, 3},
		{"heard before etcd's copy was recorded", map[int64]Heard{3: {ledgerless.HeartbeatData{Epoch: 3, MaxOffset: 600}, earlier}}, 2},
		{"backwards: an older epoch", map[int64]Heard{3: {ledgerless.HeartbeatData{Epoch: 2, MaxOffset: 9000}, later}}, 2},
		{"backwards: a smaller offset", map[int64]Heard{2: {ledgerless.HeartbeatData{Epoch: 3, MaxOffset: 100}, later}}, 2},
		{"out of sync stays out", map[int64]Heard{4: {ledgerless.HeartbeatData{Epoch: 9, MaxOffset: 1 << 40}, later}}, 2},
		{"dead stays dead", map[int64]Heard{5: {ledgerless.HeartbeatData{Epoch: 9, MaxOffset: 1 << 40}, later}}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.Brokers[2].Heartbeat
			d := Decide(auto(g, heard(c.heard)))
			if !d.Change || d.Next.MasterBrokerID != c.want {
				t.Fatalf("decided %+v, want broker %d elected", d, c.want)
			}
			if g.Brokers[2].Heartbeat != before {
				t.Fatal("Decide modified the caller's group")
			}
		})
	}
}

// TestDecideIgnoresHeardDataInARestoredGroup: a fenced group waits for
// data recorded since the restore; data heard before does not count.
func TestDecideIgnoresHeardDataInARestoredGroup(t *testing.T) {
	g := grp(0, 10, set(1), 10, alive(1, 3, 100), alive(2, 3, 50))
	g.State.Restored = true
	g.Brokers[0].LastHeartbeat = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	in := auto(g, connectedFor(time.Second))
	in.Heard = map[int64]Heard{2: {ledgerless.HeartbeatData{Epoch: 3, MaxOffset: 500}, time.Date(2026, 12, 4, 12, 0, 1, 0, time.UTC)}}
	if d := Decide(in); d.Change || d.RetryAfter == 0 {
		t.Fatalf("decided %+v; broker 2 never reported since the restore, so the election waits", d)
	}
}
