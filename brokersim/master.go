package brokersim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ledgerless/ledgerless"
)

// maintainEvery is how often a master reviews its SyncStateSet.
const maintainEvery = 200 * time.Millisecond

// follower is what a master knows of one slave's replication.
type follower struct {
	acked        int64     // the slave has every entry below
	lastSeen     time.Time // its last pull
	lastCaughtUp time.Time // the last time it had everything the master had
	endAtAnswer  int64     // the master's end when it answered the last pull
	answeredAt   time.Time
}

// arrived records a pull from offset at now, when the master's log ends
// at end; it reports whether the slave's acknowledged offset moved. As
// Kafka reckons it, a slave that asks for the end has caught up now, and
// one that asks for what was the end at the previous answer had caught up
// then.
func (f *follower) arrived(offset, end int64, now time.Time) bool {
	switch {
	case offset >= end:
		f.lastCaughtUp = now
	case offset >= f.endAtAnswer && f.answeredAt.After(f.lastCaughtUp):
		f.lastCaughtUp = f.answeredAt
	}
	moved := offset != f.acked
	f.acked, f.lastSeen = offset, now
	return moved
}

// answered records the answer to a pull at now, when the log ends at end;
// waited says that the slave waited at the end of the log until now.
func (f *follower) answered(end int64, now time.Time, waited bool) {
	if waited {
		f.lastCaughtUp = now
	}
	f.endAtAnswer, f.answeredAt = end, now
}

// Errors of a write.
var (
	errNotMaster    = errors.New("not the master")
	errNotAcked     = errors.New("not acknowledged by every SyncStateSet member in time")
	errLeaseExpired = errors.New("the master's lease may have expired: writes are refused (lease fencing)")
)

// produce appends payload as master and waits until every member of the
// SyncStateSet has it. An error means the write is not acknowledged,
// though it may be in the log.
func (b *Broker) produce(ctx context.Context, payload string) (Entry, error) {
	b.mu.Lock()
	if err := b.writableLocked(); err != nil {
		b.mu.Unlock()
		return Entry{}, err
	}
	e := Entry{Epoch: b.epoch, Offset: b.data.End(), Payload: payload}
	if err := b.data.Append(e); err != nil {
		b.mu.Unlock()
		return Entry{}, err
	}
	b.notifyLocked()
	b.mu.Unlock()

	timeout := time.NewTimer(b.cfg.AckTimeout)
	defer timeout.Stop()
	for {
		b.mu.Lock()
		if b.epoch != e.Epoch {
			b.mu.Unlock()
			return Entry{}, fmt.Errorf("%w: masterEpoch %d ended before the acknowledgements", errNotMaster, e.Epoch)
		}
		if err := b.writableLocked(); err != nil {
			b.mu.Unlock()
			return Entry{}, err
		}
		if acked := b.ackedLocked(); acked > e.Offset {
			b.confirm = max(b.confirm, acked) // moves too when the master is the whole set
			b.mu.Unlock()
			return e, nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			return Entry{}, errNotAcked
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		}
	}
}

// writableLocked says why the broker may not take a write, if it may not.
func (b *Broker) writableLocked() error {
	if b.role != ledgerless.RoleMaster || b.stopping {
		return errNotMaster
	}
	if b.cfg.LeaseFencing && b.sdk.MasterLeaseRemaining() <= 0 {
		return errLeaseExpired
	}
	return nil
}

// ackSetLocked is the set whose members must have an entry before it is
// acknowledged: the confirmed SyncStateSet and the members being added,
// since the controller may have taken them in already (RocketMQ #5663).
func (b *Broker) ackSetLocked() []int64 {
	set := append(slices.Clone(b.set), b.pending...)
	slices.Sort(set)
	return slices.Compact(set)
}

// ackedLocked is the offset below which every member of the ack set has
// every entry: the log's end when the master is the whole set.
func (b *Broker) ackedLocked() int64 {
	c, self := b.data.End(), b.sdk.ID()
	for _, id := range b.ackSetLocked() {
		if id == self {
			continue
		}
		f := b.followers[id]
		if f == nil {
			return 0
		}
		c = min(c, f.acked)
	}
	return c
}

// confirmLocked moves confirmOffset to what every member of the ack set has.
func (b *Broker) confirmLocked() { b.confirm = max(b.confirm, b.ackedLocked()) }

// pull answers a slave of masterEpoch epoch that has every entry below
// from: up to max entries from there, waiting up to wait for new ones. It
// returns the master's epoch and confirmOffset with the entries.
func (b *Broker) pull(ctx context.Context, slave, epoch, from int64, max int, wait time.Duration) (pullAnswer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.servesLocked(epoch); err != nil {
		return pullAnswer{}, err
	}
	if end := b.data.End(); from > end {
		return pullAnswer{}, fmt.Errorf("%w: the slave is at %d, beyond the master's end %d", errFenced, from, end)
	}
	f := b.followers[slave]
	if f == nil {
		f = &follower{}
		b.followers[slave] = f
	}
	if f.arrived(from, b.data.End(), time.Now()) {
		b.confirmLocked()
		b.notifyLocked() // waiting writes may be acknowledged now
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	waited, timedOut := false, false
	for from >= b.data.End() && !timedOut {
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			timedOut = true
		case <-ctx.Done():
		}
		b.mu.Lock()
		if err := b.servesLocked(epoch); err != nil {
			return pullAnswer{}, err
		}
		if ctx.Err() != nil {
			return pullAnswer{}, ctx.Err()
		}
		waited = true
	}
	f.answered(b.data.End(), time.Now(), waited)
	return pullAnswer{Epoch: b.epoch, ConfirmOffset: b.confirm, Entries: b.data.Read(from, max)}, nil
}

// errFenced answers a broker of another masterEpoch.
var errFenced = errors.New("fenced")

// servesLocked checks that the broker is the master of epoch, as a slave
// of epoch needs: a master refuses slaves of older epochs, and learns from
// one of a newer epoch that it is stale.
func (b *Broker) servesLocked(epoch int64) error {
	if b.role == ledgerless.RoleMaster && b.epoch == epoch && !b.stopping {
		return nil
	}
	if epoch > b.epoch {
		select {
		case b.stale <- struct{}{}: // maintain re-reads the group
		default:
		}
	}
	return fmt.Errorf("%w: this broker is %s at masterEpoch %d, not master at %d", errFenced, RoleName(b.role), b.epoch, epoch)
}

// RoleName names role r for people: "unassigned" until the controller
// assigned one.
func RoleName(r ledgerless.Role) string {
	if r == "" {
		return "unassigned"
	}
	return string(r)
}

// refresh reads the group from the controller; a newer masterEpoch
// arrives as a role change.
func (b *Broker) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.sdk.Refresh(ctx); err != nil {
		b.log.Debug("refresh", "err", err)
	}
}

// maintain reviews the SyncStateSet of a master every maintainEvery, and
// re-reads the group when a slave told of a newer masterEpoch, until ctx
// ends.
func (b *Broker) maintain(ctx context.Context) error {
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			b.reviewSyncStateSet(ctx)
		case <-b.stale:
			b.refresh(ctx)
		}
	}
}

// reviewSyncStateSet asks the controller for the SyncStateSet the
// followers' progress calls for. A member being added counts for
// acknowledgements from the moment it is asked for; a member leaving
// counts until the controller confirmed. After a refusal or an unknown
// outcome the broker re-reads the group.
func (b *Broker) reviewSyncStateSet(ctx context.Context) {
	b.mu.Lock()
	if b.role != ledgerless.RoleMaster || b.stopping {
		b.mu.Unlock()
		return
	}
	if v := b.sdk.View(); v.MasterEpoch == b.epoch && v.SyncStateSetEpoch > b.setEpoch {
		b.set, b.setEpoch = v.SyncStateSet, v.SyncStateSetEpoch // changed by someone else
	}
	now := time.Now()
	shrink := now.Sub(b.shrunkAt) >= b.cfg.ShrinkEvery
	if shrink {
		b.shrunkAt = now
	}
	next, added, ok := nextSyncStateSet(b.sdk.ID(), b.set, b.followers, now, b.cfg.LagMax, shrink)
	if !ok {
		b.mu.Unlock()
		return
	}
	epoch, setEpoch := b.epoch, b.setEpoch
	b.pending = append(b.pending, added...) // cleared only once the outcome is known
	b.mu.Unlock()

	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := b.sdk.AlterSyncStateSet(actx, epoch, setEpoch, next)
	cancel()
	if err != nil {
		b.log.Info("sync state set change not made; re-reading", "want", next, "err", err)
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v, err := b.sdk.Refresh(actx)
		b.mu.Lock()
		defer b.mu.Unlock()
		if err == nil && b.epoch == epoch && v.MasterEpoch == epoch && v.SyncStateSetEpoch >= b.setEpoch {
			b.set, b.setEpoch, b.pending = v.SyncStateSet, v.SyncStateSetEpoch, nil
		}
		return // unread: what may have been added still counts
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.epoch == epoch {
		b.log.Info("sync state set changed", "syncStateSet", st.Set, "syncStateSetEpoch", st.Epoch)
		b.set, b.setEpoch, b.pending = st.Set, st.Epoch, nil
		b.confirmLocked()
		b.notifyLocked()
	}
}

// nextSyncStateSet decides the SyncStateSet a master asks for: when
// shrink, members that have not caught up for more than lagMax leave it;
// followers that caught up within the last review period join it. added
// are the joining ones; ok is false when nothing changes.
func nextSyncStateSet(self int64, set []int64, followers map[int64]*follower, now time.Time, lagMax time.Duration, shrink bool) (next, added []int64, ok bool) {
	for _, id := range set {
		if f := followers[id]; id == self || !shrink || (f != nil && now.Sub(f.lastCaughtUp) <= lagMax) {
			next = append(next, id)
		}
	}
	for id, f := range followers {
		if !slices.Contains(set, id) && now.Sub(f.lastCaughtUp) <= 2*maintainEvery && now.Sub(f.lastSeen) <= 2*maintainEvery {
			next, added = append(next, id), append(added, id)
		}
	}
	slices.Sort(next)
	slices.Sort(added)
	return next, added, !slices.Equal(next, set)
}
