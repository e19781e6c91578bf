package store

import (
	"context"
	"fmt"

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
// breaks (compaction, lost connection): the caller restarts it.
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
		wch := s.cli.Watch(ctx, s.k.kind(kind), clientv3.WithPrefix(), clientv3.WithRev(from+1))
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
	for {
		select {
		case <-ctx.Done():
			return nil
		case resp := <-merged:
			if err := resp.Err(); err != nil || resp.Canceled {
				if err == nil {
					err = fmt.Errorf("watch canceled")
				}
				return translate("watch", err)
			}
			changes := make([]Change, 0, len(resp.Events))
			for _, ev := range resp.Events {
				p, ok := s.k.parse(string(ev.Kv.Key))
				if !ok {
					continue
				}
				c := Change{Group: p.group, Revision: ev.Kv.ModRevision}
				if p.kind == kindAlive && ev.Type == clientv3.EventTypeDelete {
					c.BrokerID, c.Lost = p.id, true
				}
				changes = append(changes, c)
			}
			fn(changes, resp.Header.Revision)
		}
	}
}
