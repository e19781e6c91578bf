// Package crashtest records what a replica's crash detection concluded,
// for the tests of the packages that serve brokers.
package crashtest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Recorder is a service.CrashObserver that keeps every suspicion.
type Recorder struct {
	mu     sync.Mutex
	raised int
	ended  []string // outcome, or "dismissed:why"
}

// CrashSuspected counts a suspicion raised.
func (r *Recorder) CrashSuspected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raised++
}

// CrashSuspicionEnded keeps how a suspicion ended.
func (r *Recorder) CrashSuspicionEnded(outcome, why string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if why != "" {
		outcome += ":" + why
	}
	r.ended = append(r.ended, outcome)
}

// Outcomes waits up to 10 s until n suspicions ended and returns every
// outcome, in order; it fails t if fewer ended.
func (r *Recorder) Outcomes(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		out := slices.Clone(r.ended)
		r.mu.Unlock()
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d crash suspicions ended, want %d: %v", len(out), n, out)
		}
	}
}

// Suspicions is the number of suspicions raised.
func (r *Recorder) Suspicions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raised
}
