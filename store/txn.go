package store

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// Txn is a compare-and-swap write to one group, built on a Snapshot. It
// always compares the group's state revision; each member write adds the
// compares it needs. Commit returns ErrConflict when any compare fails.
type Txn struct {
	s    *Store
	snap *Snapshot
	cmps []clientv3.Cmp
	ops  []clientv3.Op
}

// Txn starts a transaction against snap.
func (s *Store) Txn(snap *Snapshot) *Txn {
	key := s.k.state(snap.Group.Key)
	return &Txn{s: s, snap: snap, cmps: []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", snap.stateRev)}}
}

// PutState writes the group's master state.
func (t *Txn) PutState(st ledgerless.State) *Txn {
	t.ops = append(t.ops, clientv3.OpPut(t.s.k.state(t.snap.Group.Key), encode(toStateRecord(st, t.snap.fence))))
	return t
}

// PutBroker writes a broker's registration, comparing its revision.
func (t *Txn) PutBroker(b ledgerless.Broker, registeredAt time.Time) *Txn {
	key := t.s.k.member(kindBrokers, t.snap.Group.Key, b.ID)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", t.snap.members[b.ID].broker))
	t.ops = append(t.ops, clientv3.OpPut(key, encode(brokerRecord{V: schemaVersion, Address: b.Address,
		RegisterCode: b.RegisterCode, HeartbeatTimeoutMs: b.HeartbeatTimeout.Milliseconds(), RegisteredAt: registeredAt.UTC()})))
	return t
}

// PutAlive makes a broker alive under lease, provided it was not alive in
// the snapshot and nobody made it alive since.
func (t *Txn) PutAlive(id int64, lease LeaseID, ttl time.Duration, now time.Time) *Txn {
	key := t.s.k.member(kindAlive, t.snap.Group.Key, id)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", t.snap.members[id].aliveCreate))
	t.ops = append(t.ops, clientv3.OpPut(key, encode(aliveRecord{V: schemaVersion, TTLMs: ttl.Milliseconds(), Since: now.UTC()}),
		clientv3.WithLease(clientv3.LeaseID(lease))))
	return t
}

// RequireAlive compares that a broker is still alive under the same lease
// as in the snapshot.
func (t *Txn) RequireAlive(id int64) *Txn {
	key := t.s.k.member(kindAlive, t.snap.Group.Key, id)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", t.snap.members[id].aliveCreate))
	return t
}

// EndAlive ends a broker's liveness, provided it is still alive under the
// same lease as in the snapshot and no heartbeat data was recorded for it
// since: a broker that re-registered, was revived or reported through any
// replica in between fails the compare. The caller revokes the lease after
// committing.
func (t *Txn) EndAlive(id int64) *Txn {
	alive := t.s.k.member(kindAlive, t.snap.Group.Key, id)
	hb := t.s.k.member(kindHeartbeat, t.snap.Group.Key, id)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(alive), "=", t.snap.members[id].aliveCreate),
		clientv3.Compare(clientv3.ModRevision(hb), "=", t.snap.members[id].hb))
	t.ops = append(t.ops, clientv3.OpDelete(alive))
	return t
}

// RequireMember compares that a broker's registration and liveness are
// as in the snapshot: registered with the same record, and alive under the
// same lease, or not alive, as it was.
func (t *Txn) RequireMember(id int64) *Txn {
	key := t.s.k.member(kindBrokers, t.snap.Group.Key, id)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", t.snap.members[id].broker))
	return t.RequireAlive(id)
}

// RequireMembers compares that no registration or liveness of the group
// was written since the snapshot: no broker registered, changed or came
// alive. (A lease that ended since is not compared.) Two compares whatever
// the group's size.
func (t *Txn) RequireMembers() *Txn {
	for _, kind := range []string{kindBrokers, kindAlive} {
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(t.s.k.group(kind, t.snap.Group.Key)), "<", t.snap.Revision+1).WithPrefix())
	}
	return t
}

// Commit runs the transaction.
func (t *Txn) Commit(ctx context.Context) error {
	resp, err := t.s.cli.Txn(ctx).If(t.cmps...).Then(t.ops...).Commit()
	if err != nil {
		return translate("commit "+t.snap.Group.Key.String(), err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("commit %s: %w", t.snap.Group.Key, ErrConflict)
	}
	return nil
}

// Lease returns the lease a broker was alive under in the snapshot.
func (s *Snapshot) Lease(id int64) LeaseID { return s.members[id].lease }

// Renewed reports whether broker id's liveness or heartbeat data changed
// between the snapshot since and s: a new lease, or data recorded.
func (s *Snapshot) Renewed(id int64, since *Snapshot) bool {
	a, b := s.members[id], since.members[id]
	return a.aliveCreate != b.aliveCreate || a.lease != b.lease || a.hb != b.hb
}

// AppendHistory records an epoch change. The entry's key is its epoch, so
// recording the same epoch twice fails the transaction.
func (t *Txn) AppendHistory(h ledgerless.HistoryEntry) *Txn {
	key := t.s.k.member(kindHistory, t.snap.Group.Key, h.MasterEpoch)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
	t.ops = append(t.ops, clientv3.OpPut(key, encode(toHistoryRecord(h))))
	return t
}

// DeleteBroker removes a broker's registration, liveness and heartbeat
// data. The caller revokes the broker's lease after committing.
func (t *Txn) DeleteBroker(id int64) *Txn {
	for _, kind := range []string{kindBrokers, kindAlive, kindHeartbeat} {
		t.ops = append(t.ops, clientv3.OpDelete(t.s.k.member(kind, t.snap.Group.Key, id)))
	}
	return t
}

// DeleteGroup removes the group: its brokers and history, and its state
// but for its epochs and next broker id, which a group created again under
// the same name continues from, so that no broker ever sees an epoch go
// back or an id reused.
func (t *Txn) DeleteGroup() *Txn {
	g := t.snap.Group.Key
	st := t.snap.Group.State
	left := toStateRecord(ledgerless.State{MasterEpoch: st.MasterEpoch, EpochBase: st.MasterEpoch,
		SyncStateSetEpoch: st.SyncStateSetEpoch, NextBrokerID: st.NextBrokerID}, "")
	left.Removed = true
	t.ops = append(t.ops, clientv3.OpPut(t.s.k.state(g), encode(left)))
	for _, kind := range []string{kindBrokers, kindAlive, kindHeartbeat, kindHistory} {
		t.ops = append(t.ops, clientv3.OpDelete(t.s.k.group(kind, g), clientv3.WithPrefix()))
	}
	return t
}
