package brokersim

import (
	"slices"
	"testing"
	"time"
)

func TestFollowerCaughtUp(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var f follower
	f.arrived(0, 10, at(0)) // behind, never caught up
	if !f.lastCaughtUp.IsZero() || f.acked != 0 {
		t.Fatalf("after a pull from behind: %+v", f)
	}
	f.answered(10, at(5), false)
	f.arrived(10, 12, at(100)) // has what was the end at the answer
	if !f.lastCaughtUp.Equal(at(5)) || f.acked != 10 {
		t.Fatalf("caught up with the last answer: %+v", f)
	}
	f.answered(12, at(105), false)
	f.arrived(12, 12, at(200)) // at the end
	if !f.lastCaughtUp.Equal(at(200)) {
		t.Fatalf("at the end: %+v", f)
	}
	f.answered(13, at(600), true) // waited at the end until an entry came
	if !f.lastCaughtUp.Equal(at(600)) {
		t.Fatalf("after waiting at the end: %+v", f)
	}
	f.arrived(11, 20, at(900)) // behind what it had been given: no progress
	if !f.lastCaughtUp.Equal(at(600)) {
		t.Fatalf("after falling behind: %+v", f)
	}
}

func TestNextSyncStateSet(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *follower { return &follower{lastCaughtUp: now.Add(-d), lastSeen: now.Add(-d)} }
	const lag = 3 * time.Second
	for _, tc := range []struct {
		name        string
		set         []int64
		followers   map[int64]*follower
		next, added []int64
	}{
		{"all in sync", []int64{1, 2, 3}, map[int64]*follower{2: ago(0), 3: ago(time.Second)}, []int64{1, 2, 3}, nil},
		{"a member lags", []int64{1, 2, 3}, map[int64]*follower{2: ago(0), 3: ago(4 * time.Second)}, []int64{1, 2}, nil},
		{"a member never pulled", []int64{1, 2}, map[int64]*follower{}, []int64{1}, nil},
		{"a follower caught up", []int64{1}, map[int64]*follower{2: ago(100 * time.Millisecond), 3: ago(2 * time.Second)}, []int64{1, 2}, []int64{2}},
		{"both at once", []int64{1, 3}, map[int64]*follower{2: ago(0), 3: ago(time.Minute)}, []int64{1, 2}, []int64{2}},
		{"alone", []int64{1}, nil, []int64{1}, nil},
	} {
		next, added, ok := nextSyncStateSet(1, tc.set, tc.followers, now, lag, true)
		if !slices.Equal(next, tc.next) || !slices.Equal(added, tc.added) || ok != !slices.Equal(tc.set, tc.next) {
			t.Errorf("%s: next %v added %v ok %v; want next %v added %v", tc.name, next, added, ok, tc.next, tc.added)
		}
		// Between shrink checks, lagging members stay; caught-up ones join.
		next, added, _ = nextSyncStateSet(1, tc.set, tc.followers, now, lag, false)
		want := slices.Clone(tc.set)
		want = append(want, tc.added...)
		slices.Sort(want)
		if !slices.Equal(next, want) || !slices.Equal(added, tc.added) {
			t.Errorf("%s, no shrink check: next %v added %v; want next %v added %v", tc.name, next, added, want, tc.added)
		}
	}
}
