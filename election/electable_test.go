package election

import (
	"testing"

	"github.com/ledgerless/ledgerless"
)

// Electable, the reconcile's filter, never hides a group where an
// automatic election would change something: over every small group
// without a live master (master, SyncStateSet and liveness of three
// brokers, paused or not, unclean or not, elected before or not,
// restored or not), Decide changing the state implies Electable.
func TestElectableCoversEveryChange(t *testing.T) {
	checked, filtered := 0, 0
	for master := int64(0); master <= 3; master++ {
		for sss := 0; sss < 8; sss++ {
			for live := 0; live < 8; live++ {
				for flags := 0; flags < 16; flags++ {
					paused, unclean, never, fenced := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
					var set, aliveIDs []int64
					var brokers []ledgerless.Broker
					for id := int64(1); id <= 3; id++ {
						if sss&(1<<(id-1)) != 0 {
							set = append(set, id)
						}
						b := dead(id, 4, id*10)
						if live&(1<<(id-1)) != 0 {
							b = reported(alive(id, 4, id*10))
							aliveIDs = append(aliveIDs, id)
						}
						brokers = append(brokers, b)
					}
					if master != 0 && live&(1<<(master-1)) != 0 {
						continue // a live master: the scan does not list the group
					}
					epoch := int64(5)
					if never {
						epoch = 0
					}
					g := grp(master, epoch, set, 1, brokers...)
					if fenced {
						g = restored(g)
					}
					in := auto(g, connectedFor(longConnect), func(in *Input) {
						in.Config.Paused, in.Config.EnableElectUncleanMaster = paused, unclean
					})
					ok := Electable(g.Key, g.State, aliveIDs, in.Config)
					if d := Decide(in); d.Change && !ok {
						t.Errorf("master %d, set %v, alive %v, paused %v, unclean %v, never elected %v, restored %v: Decide changes the state, Electable says no",
							g.State.MasterBrokerID, set, aliveIDs, paused, unclean, never, fenced)
					}
					checked++
					if !ok {
						filtered++
					}
				}
			}
		}
	}
	if filtered == 0 {
		t.Errorf("Electable filtered none of %d groups", checked)
	}
}

// The groups a reconcile skips: paused ones that had a master, and
// master-less ones without a broker that could be elected.
func TestElectableSkips(t *testing.T) {
	cfg := ledgerless.DefaultRuntimeConfig()
	paused := cfg
	paused.PausedGroups = []string{testKey.String()}
	unclean := cfg
	unclean.EnableElectUncleanMaster = true
	st := ledgerless.State{MasterEpoch: 5, SyncStateSet: []int64{1}}
	dead := st
	dead.MasterBrokerID = 1
	first := ledgerless.State{}
	tests := []struct {
		name  string
		st    ledgerless.State
		alive []int64
		cfg   ledgerless.RuntimeConfig
		want  bool
	}{
		{"master-less, nobody alive", st, nil, cfg, false},
		{"master-less, only a broker outside the SyncStateSet alive", st, []int64{2}, cfg, false},
		{"master-less, a SyncStateSet member alive", st, []int64{1, 2}, cfg, true},
		{"master-less, unclean, a broker outside the SyncStateSet alive", st, []int64{2}, unclean, true},
		{"paused, a SyncStateSet member alive", st, []int64{1}, paused, false},
		{"paused, a dead master", dead, []int64{2}, paused, false},
		{"a dead master, nobody alive: fence it", dead, nil, cfg, true},
		{"never elected, paused, a broker alive: its first master", first, []int64{1}, paused, true},
		{"never elected, nobody alive", first, nil, cfg, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Electable(testKey, tt.st, tt.alive, tt.cfg); got != tt.want {
				t.Errorf("Electable = %v, want %v", got, tt.want)
			}
		})
	}
}
