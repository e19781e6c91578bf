package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// ErrGroupExists reports that ImportGroup found the group already in
// ledgerless and was not told to replace it.
var ErrGroupExists = errors.New("the group exists in ledgerless")

// ImportResult says what ImportGroup wrote.
type ImportResult struct {
	State    ledgerless.State // the group's state as written
	Replaced bool             // an existing group was replaced (force)
}

const maxImportAttempts = 5

// ImportGroup writes group g as another controller (a stock RocketMQ
// controller) knew it: its master, epochs and SyncStateSet, and each
// broker's id, address and register code, so that its brokers carry on
// with the ids and epochs they have. Liveness and heartbeat data are not
// part of it: brokers are alive once they heartbeat. A broker's heartbeat
// timeout of 0 is the runtime configuration's default.
//
// It is one transaction that compares the group's state revision. A group
// that exists is ErrGroupExists, unless force is set: then it is replaced
// whole, its brokers, liveness, heartbeat data and election history
// included (the leases of its alive brokers are revoked). What is left of
// a removed group is replaced too, but its next broker id is kept when it
// is higher, as it is for a replaced group: ids are never reused. The
// history gets one entry, reason imported, at the imported masterEpoch.
// g must pass ledgerless.ValidateImported.
func (s *Store) ImportGroup(ctx context.Context, g ledgerless.Group, force bool, replica string, now time.Time) (ImportResult, error) {
	if err := ledgerless.ValidateImported(g); err != nil {
		return ImportResult{}, fmt.Errorf("import %s: %w", g.Key, err)
	}
	for attempt := 0; attempt < maxImportAttempts; attempt++ {
		snap, err := s.ReadGroup(ctx, g.Key)
		if err != nil {
			return ImportResult{}, fmt.Errorf("import %s: %w", g.Key, err)
		}
		if snap.Exists() && !force {
			return ImportResult{}, fmt.Errorf("import %s: %w (masterEpoch %d, %d brokers); give --force to replace it",
				g.Key, ErrGroupExists, snap.Group.State.MasterEpoch, len(snap.Group.Brokers))
		}
		res, cmps, ops := s.importOps(snap, g, replica, now)
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return ImportResult{}, translate("import "+g.Key.String(), err)
		}
		if !resp.Succeeded {
			continue // changed since the read
		}
		for id := range snap.members {
			if lease := snap.Lease(id); lease != 0 {
				_ = s.RevokeLease(ctx, lease) // its key is gone; the lease would only expire
			}
		}
		return res, nil
	}
	return ImportResult{}, fmt.Errorf("import %s: %w", g.Key, ErrConflict)
}

// importOps builds the transaction that replaces what snap read of the
// group with g.
func (s *Store) importOps(snap *Snapshot, g ledgerless.Group, replica string, now time.Time) (ImportResult, []clientv3.Cmp, []clientv3.Op) {
	key := g.Key
	st := g.State
	st.EpochBase, st.Restored = 0, false
	// An existing or removed group may have handed out higher ids (and a
	// restore starts new groups' ids above its floor).
	st.NextBrokerID = max(st.NextBrokerID, snap.Group.State.NextBrokerID)
	res := ImportResult{State: st, Replaced: snap.Exists()}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k.state(key)), "=", snap.stateRev)}
	ops := []clientv3.Op{clientv3.OpPut(s.k.state(key), encode(toStateRecord(st, "")))}

	imported := map[int64]bool{}
	for _, b := range g.Brokers {
		imported[b.ID] = true
		timeout := b.HeartbeatTimeout
		if timeout == 0 {
			timeout = snap.Config.DefaultHeartbeatTimeout
		}
		bk := s.k.member(kindBrokers, key, b.ID)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(bk), "=", snap.members[b.ID].broker))
		ops = append(ops, clientv3.OpPut(bk, encode(brokerRecord{V: schemaVersion, Address: b.Address,
			RegisterCode: b.RegisterCode, HeartbeatTimeoutMs: timeout.Milliseconds(), RegisteredAt: now.UTC()})))
	}
	for id, revs := range snap.members {
		if !imported[id] && revs.broker != 0 {
			ops = append(ops, clientv3.OpDelete(s.k.member(kindBrokers, key, id)))
		}
	}
	ops = append(ops, clientv3.OpDelete(s.k.group(kindAlive, key), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.group(kindHeartbeat, key), clientv3.WithPrefix()))

	// The history starts again at the import: every older entry goes,
	// around the one written (a put may not fall in a deleted range).
	history := s.k.group(kindHistory, key)
	entry := s.k.member(kindHistory, key, st.MasterEpoch)
	ops = append(ops,
		clientv3.OpDelete(history, clientv3.WithRange(entry)),
		clientv3.OpDelete(entry+"\x00", clientv3.WithRange(clientv3.GetPrefixRangeEnd(history))),
		clientv3.OpPut(entry, encode(toHistoryRecord(ledgerless.HistoryEntry{MasterEpoch: st.MasterEpoch, Time: now,
			Reason: ledgerless.ReasonImported, NewMasterBrokerID: st.MasterBrokerID, Replica: replica}))))
	return res, cmps, ops
}
