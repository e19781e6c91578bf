package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// History reads up to limit election records of group g with a masterEpoch
// below before (0: from the newest), newest first. more reports whether
// older records exist. An unknown or removed group is
// ErrBrokerMetadataNotExist. limit must be positive.
func (s *Store) History(ctx context.Context, g ledgerless.GroupKey, before int64, limit int) (entries []ledgerless.HistoryEntry, more bool, err error) {
	from := s.k.group(kindHistory, g)
	end := clientv3.GetPrefixRangeEnd(from)
	if before > 0 {
		end = s.k.member(kindHistory, g, before)
	}
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.state(g)),
		clientv3.OpGet(from, clientv3.WithRange(end), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend),
			clientv3.WithLimit(int64(limit)+1)),
	).Commit()
	if err != nil {
		return nil, false, translate("read history", err)
	}
	// A removed group keeps its state record, marked removed, for the
	// epochs a new group of the name continues from: it has no history.
	state := kvsOf(resp, 0)
	if len(state) == 0 {
		return nil, false, fmt.Errorf("history of %s: %w", g, ledgerless.ErrBrokerMetadataNotExist)
	}
	var rec stateRecord
	if err := decode(string(state[0].Key), state[0].Value, &rec); err != nil {
		return nil, false, err
	}
	if rec.Removed {
		return nil, false, fmt.Errorf("history of %s: %w", g, ledgerless.ErrBrokerMetadataNotExist)
	}
	kvs := kvsOf(resp, 1)
	if len(kvs) > limit {
		kvs, more = kvs[:limit], true
	}
	for _, kv := range kvs {
		var rec historyRecord
		if err := decode(string(kv.Key), kv.Value, &rec); err != nil {
			return nil, false, err
		}
		entries = append(entries, rec.entry())
	}
	return entries, more, nil
}
