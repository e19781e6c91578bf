package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff spaces out retries: the delay doubles from base up to max, and
// each is jittered to between half and all of it, so that brokers that
// lost their controller at the same moment do not come back in step.
type backoff struct {
	base, max time.Duration
	n         int // retries since the last reset
}

// next returns the delay before the next retry.
func (b *backoff) next() time.Duration {
	d := b.max
	if b.n < 30 && b.base<<b.n < b.max {
		d = b.base << b.n
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

// reset starts over from base after a success.
func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
