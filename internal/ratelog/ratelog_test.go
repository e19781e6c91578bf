package ratelog_test

import (
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/internal/ratelog"
)

func TestOneLinePerKindPerInterval(t *testing.T) {
	now := time.Unix(1000, 0)
	l := ratelog.New(10*time.Second, func() time.Time { return now })
	type step struct {
		after      time.Duration
		kind       string
		ok         bool
		suppressed int
	}
	for i, s := range []step{
		{0, "a", true, 0},
		{time.Second, "a", false, 0},
		{0, "b", true, 0}, // another kind is not held back by a
		{time.Second, "a", false, 0},
		{time.Second, "b", false, 0},
		{8 * time.Second, "a", true, 2}, // 10 s after a's first line
		{0, "a", false, 0},
		{time.Second, "b", true, 1},
		{30 * time.Second, "a", true, 1},
		{30 * time.Second, "a", true, 0},
	} {
		now = now.Add(s.after)
		suppressed, ok := l.Allow(s.kind)
		if ok != s.ok || suppressed != s.suppressed {
			t.Errorf("step %d (%s): ok %v suppressed %d, want %v %d", i, s.kind, ok, suppressed, s.ok, s.suppressed)
		}
	}
}
