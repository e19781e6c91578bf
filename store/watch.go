package store

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// Change says that something of a group's long-poll index changed at
// Revision: its state, a registration, or a broker's liveness.
type Change struct {
	Group    ledgerless.GroupKey
	Revision int64
	// BrokerID and Lost are set when a broker's alive key went away
	// (its lease expired or was revoked).
	BrokerID int64
	Lost     bool
}

// WatchChanges streams group changes after revision from (0: from now)
// until ctx ends or the watch breaks. Each batch of changes comes with the
// revision the watch has reached. It starts by sending an empty batch
// that carries the revision it starts after, so callers know from where
// their view is complete. It returns when ctx ends (nil) or when the watch
// breaks (compaction, lost connection, no progress for watchGiveUp): the
// caller restarts it.
//
// The watch asks etcd for a progress notification every progressEvery, so
// that a watch that stops making progress is noticed although no change
// is due: one that has waited longer than stallAfter for an answer of
// any kind reports the link down until the next answer comes.
func (s *Store) WatchChanges(ctx context.Context, from int64, fn func(changes []Change, revision int64)) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	if from == 0 {
		resp, err := s.cli.Get(ctx, s.k.config(), clientv3.WithCountOnly())
		if err != nil {
			return translate("watch start", err)
		}
		from = resp.Header.Revision
	}
	fn(nil, from)
	merged := make(chan clientv3.WatchResponse)
	for _, kind := range []string{kindState, kindBrokers, kindAlive} {
		// From from, not after it: etcd answers a progress request only
		// once the store's revision reached every watch's start, and
		// nothing may change for a while. The changes at from itself are
		// known already and skipped.
		wch := s.cli.Watch(ctx, s.k.kind(kind), clientv3.WithPrefix(), clientv3.WithRev(from))
		go func() {
			for resp := range wch {
				select {
				case merged <- resp:
				case <-ctx.Done():
					return
				}
			}
			select {
			case merged <- clientv3.WatchResponse{Canceled: true}:
			case <-ctx.Done():
			}
		}()
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	var waiting time.Time // since when the watch has been waiting for an answer of any kind; zero: it is not
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			// Asked again on every tick: etcd does not answer a request
			// that comes while a watch is catching up.
			if waiting.IsZero() {
				waiting = now
			}
			switch overdue := now.Sub(waiting); {
			case overdue > watchGiveUp:
				return translate("watch", fmt.Errorf("%w: no progress for %s", ledgerless.ErrUnavailable, overdue.Round(time.Millisecond)))
			case overdue > stallAfter:
				s.link.report(linkWatch, true)
			}
			go s.requestProgress(ctx)
		case resp := <-merged:
			if err := resp.Err(); err != nil || resp.Canceled {
				if err == nil {
					err = fmt.Errorf("watch canceled")
				}
				return translate("watch", err)
			}
			waiting = time.Time{}
			s.link.report(linkWatch, false)
			if len(resp.Events) == 0 {
				continue // a progress notification
			}
			changes := make([]Change, 0, len(resp.Events))
			for _, ev := range resp.Events {
				p, ok := s.k.parse(string(ev.Kv.Key))
				if !ok || ev.Kv.ModRevision <= from {
					continue
				}
				c := Change{Group: p.group, Revision: ev.Kv.ModRevision}
				if p.kind == kindAlive && ev.Type == clientv3.EventTypeDelete {
					c.BrokerID, c.Lost = p.id, true
				}
				changes = append(changes, c)
			}
			if len(changes) > 0 {
				fn(changes, resp.Header.Revision)
			}
		}
	}
}

// Bounds of the change watch's progress (see WatchChanges).
const (
	progressEvery = stallAfter / 4
	watchGiveUp   = 10 * time.Second
)

// requestProgress asks etcd for a progress notification on the watch
// stream of ctx. The request is queued behind the stream's other sends,
// which a silent link may hold: it waits at most stallAfter.
func (s *Store) requestProgress(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, stallAfter)
	defer cancel()
	_ = s.cli.RequestProgress(ctx)
}
