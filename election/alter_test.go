package election

import (
	"errors"
	"slices"
	"testing"

	"github.com/ledgerless/ledgerless"
)

// alterGroup: master 1 at masterEpoch 5, SyncStateSet {1, 2} at
// syncStateSetEpoch 7; brokers 1–3 alive, 4 dead, 9 never registered.
func alterGroup() ledgerless.Group {
	return grp(1, 5, set(1, 2), 7, alive(1, 4, 0), alive(2, 4, 0), alive(3, 4, 0), dead(4, 4, 0))
}

// alterGroupWithoutMaster is alterGroup after its master was lost.
func alterGroupWithoutMaster() ledgerless.Group {
	return grp(0, 6, set(1, 2), 7, dead(1, 4, 0), alive(2, 4, 0), alive(3, 4, 0), dead(4, 4, 0))
}

// req is a request from master 1 with the current epochs.
func req(sss ...int64) Alter {
	return Alter{MasterBrokerID: 1, MasterEpoch: 5, SyncStateSet: sss, SyncStateSetEpoch: 7}
}

func from(a Alter, master int64) Alter      { a.MasterBrokerID = master; return a }
func masterEpoch(a Alter, e int64) Alter    { a.MasterEpoch = e; return a }
func syncStateEpoch(a Alter, e int64) Alter { a.SyncStateSetEpoch = e; return a }

func TestCheckAlter(t *testing.T) {
	g := alterGroup()
	tests := []struct {
		name    string
		g       ledgerless.Group
		a       Alter
		wantErr error
		wantSSS []int64 // on success
	}{
		// 1. the new set differs from the current one.
		{"1 same set", g, req(1, 2), ledgerless.ErrAlterSyncStateSetFailed, nil},
		{"1 same set before 2 wrong master", g, from(req(1, 2), 2), ledgerless.ErrAlterSyncStateSetFailed, nil},
		{"1 same set before 2 group without master", alterGroupWithoutMaster(), from(masterEpoch(req(1, 2), 6), 0), ledgerless.ErrAlterSyncStateSetFailed, nil},
		{"1 same set before 3 stale masterEpoch", g, masterEpoch(req(1, 2), 4), ledgerless.ErrAlterSyncStateSetFailed, nil},
		{"1 same set before 4 stale syncStateSetEpoch", g, syncStateEpoch(req(1, 2), 6), ledgerless.ErrAlterSyncStateSetFailed, nil},

		// 2. masterBrokerId is the current master.
		{"2 wrong master", g, from(req(1, 2, 3), 2), ledgerless.ErrInvalidMaster, nil},
		{"2 unregistered requester", g, from(req(1, 2, 3), 9), ledgerless.ErrInvalidMaster, nil},
		{"2 group without master, request names the old master", alterGroupWithoutMaster(), masterEpoch(req(1, 2, 3), 6), ledgerless.ErrInvalidMaster, nil},
		{"2 group without master, request names no master", alterGroupWithoutMaster(), from(masterEpoch(req(2, 3), 6), 0), ledgerless.ErrInvalidMaster, nil},
		{"2 wrong master before 3 stale masterEpoch", g, masterEpoch(from(req(1, 2, 3), 2), 4), ledgerless.ErrInvalidMaster, nil},
		{"2 wrong master before 5 dead member", g, from(req(1, 2, 4), 2), ledgerless.ErrInvalidMaster, nil},

		// 3. masterEpoch equals the current one.
		{"3 stale masterEpoch", g, masterEpoch(req(1, 2, 3), 4), ledgerless.ErrFencedMasterEpoch, nil},
		{"3 future masterEpoch", g, masterEpoch(req(1, 2, 3), 6), ledgerless.ErrFencedMasterEpoch, nil},
		{"3 stale masterEpoch before 4 stale syncStateSetEpoch", g, syncStateEpoch(masterEpoch(req(1, 2, 3), 4), 6), ledgerless.ErrFencedMasterEpoch, nil},
		{"3 stale masterEpoch before 6 set without master", g, masterEpoch(req(2, 3), 4), ledgerless.ErrFencedMasterEpoch, nil},

		// 4. syncStateSetEpoch equals the current one.
		{"4 stale syncStateSetEpoch", g, syncStateEpoch(req(1, 2, 3), 6), ledgerless.ErrFencedSyncStateSetEpoch, nil},
		{"4 future syncStateSetEpoch", g, syncStateEpoch(req(1, 2, 3), 8), ledgerless.ErrFencedSyncStateSetEpoch, nil},
		{"4 stale syncStateSetEpoch before 5 unregistered member", g, syncStateEpoch(req(1, 9), 6), ledgerless.ErrFencedSyncStateSetEpoch, nil},

		// 5. every member is registered, and alive.
		{"5 unregistered member", g, req(1, 2, 9), ledgerless.ErrInvalidReplicas, nil},
		{"5 dead member", g, req(1, 2, 4), ledgerless.ErrBrokerNotAlive, nil},
		{"5 unregistered member before 6 set without master", g, req(2, 9), ledgerless.ErrInvalidReplicas, nil},
		{"5 dead member before 6 set without master", g, req(2, 4), ledgerless.ErrBrokerNotAlive, nil},

		// 6. the set contains the master.
		{"6 set without master", g, req(2, 3), ledgerless.ErrAlterSyncStateSetFailed, nil},
		{"6 empty set", g, req(), ledgerless.ErrAlterSyncStateSetFailed, nil},

		// Success: the set is replaced and syncStateSetEpoch+1.
		{"ok grow", g, req(1, 2, 3), nil, set(1, 2, 3)},
		{"ok shrink to the master", g, req(1), nil, set(1)},
		{"ok swap a member", g, req(1, 3), nil, set(1, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.g.State
			beforeSSS := slices.Clone(before.SyncStateSet)
			reqSSS := slices.Clone(tt.a.SyncStateSet)

			got, err := CheckAlter(tt.g, tt.a)

			if !slices.Equal(tt.g.State.SyncStateSet, beforeSSS) {
				t.Errorf("input group's SyncStateSet mutated: %v, was %v", tt.g.State.SyncStateSet, beforeSSS)
			}
			if !slices.Equal(tt.a.SyncStateSet, reqSSS) {
				t.Errorf("request's SyncStateSet mutated: %v, was %v", tt.a.SyncStateSet, reqSSS)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want errors.Is %v", err, tt.wantErr)
				}
				if !got.Equal(before) {
					t.Errorf("state on error = %+v, want the current state %+v", got, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			want := before
			want.SyncStateSet = tt.wantSSS
			want.SyncStateSetEpoch = before.SyncStateSetEpoch + 1
			if !got.Equal(want) {
				t.Errorf("state = %+v, want %+v", got, want)
			}
			// The result owns its slice: changing it touches neither the
			// input group nor the request.
			got.SyncStateSet[0] = 77
			if !slices.Equal(tt.g.State.SyncStateSet, beforeSSS) {
				t.Errorf("result aliases the input group's SyncStateSet")
			}
			if !slices.Equal(tt.a.SyncStateSet, reqSSS) {
				t.Errorf("result aliases the request's SyncStateSet")
			}
		})
	}
}
