package store

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// Member is one broker's registration, lease and heartbeat data as a
// replica caches them between heartbeats. Its revisions let a heartbeat
// record data with one compare-and-swap and no prior read; when the cache
// is stale the compare fails with ErrConflict and the caller reads again.
type Member struct {
	Group  ledgerless.GroupKey
	Broker ledgerless.Broker
	Lease  LeaseID // 0 when the broker was not alive when read

	brokerCreate int64 // CreateRevision of the registration
	hbRev        int64 // ModRevision of the heartbeat data; 0 when none
}

// ReadMember reads broker id of group g and the group's state in one
// linearizable transaction. It returns ErrBrokerNeedToBeRegistered when
// the broker is unknown.
func (s *Store) ReadMember(ctx context.Context, g ledgerless.GroupKey, id int64) (*Member, ledgerless.State, error) {
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.member(kindBrokers, g, id)),
		clientv3.OpGet(s.k.member(kindAlive, g, id)),
		clientv3.OpGet(s.k.member(kindHeartbeat, g, id)),
		clientv3.OpGet(s.k.state(g)),
	).Commit()
	if err != nil {
		return nil, ledgerless.State{}, translate("read broker", err)
	}
	kvs := func(i int) []*mvccKV { return kvsOf(resp, i) }
	if len(kvs(3)) == 0 || len(kvs(0)) == 0 {
		return nil, ledgerless.State{}, fmt.Errorf("broker %d of %s: %w", id, g, ledgerless.ErrBrokerNeedToBeRegistered)
	}
	var st stateRecord
	if err := decode(string(kvs(3)[0].Key), kvs(3)[0].Value, &st); err != nil {
		return nil, ledgerless.State{}, err
	}
	m := &Member{Group: g, Broker: ledgerless.Broker{ID: id}, brokerCreate: kvs(0)[0].CreateRevision}
	var revs memberRevs
	for i, kind := range []string{kindBrokers, kindAlive, kindHeartbeat} {
		for _, kv := range kvs(i) {
			if err := applyMember(kind, kv.Key, kv.Value, &m.Broker, &revs); err != nil {
				return nil, ledgerless.State{}, err
			}
			switch kind {
			case kindAlive:
				m.Lease = LeaseID(kv.Lease)
			case kindHeartbeat:
				m.hbRev = kv.ModRevision
			}
		}
	}
	return m, st.state(), nil
}

// RecordHeartbeat writes heartbeat data for m and reads the group state in
// the same transaction. It compares that the registration is the one m was
// read from and that nobody recorded data since; on success m is updated.
func (s *Store) RecordHeartbeat(ctx context.Context, m *Member, data ledgerless.HeartbeatData, at time.Time) (ledgerless.State, error) {
	key := s.k.member(kindHeartbeat, m.Group, m.Broker.ID)
	resp, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(s.k.member(kindBrokers, m.Group, m.Broker.ID)), "=", m.brokerCreate),
		clientv3.Compare(clientv3.ModRevision(key), "=", m.hbRev),
	).Then(
		clientv3.OpPut(key, encode(toHeartbeatRecord(data, at))),
		clientv3.OpGet(s.k.state(m.Group)),
	).Commit()
	st, err := s.stateAfter(resp, err, 1, "record heartbeat", m)
	if err != nil {
		return st, err
	}
	m.hbRev = resp.Header.Revision
	m.Broker.Heartbeat, m.Broker.LastHeartbeat = data, at
	return st, nil
}

// CheckMember reads the group state, comparing that m's registration still
// exists unchanged. It is the read-only form of RecordHeartbeat.
func (s *Store) CheckMember(ctx context.Context, m *Member) (ledgerless.State, error) {
	resp, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(s.k.member(kindBrokers, m.Group, m.Broker.ID)), "=", m.brokerCreate),
	).Then(clientv3.OpGet(s.k.state(m.Group))).Commit()
	return s.stateAfter(resp, err, 0, "check broker", m)
}

func (s *Store) stateAfter(resp *clientv3.TxnResponse, err error, i int, op string, m *Member) (ledgerless.State, error) {
	if err != nil {
		return ledgerless.State{}, translate(op, err)
	}
	if !resp.Succeeded {
		return ledgerless.State{}, fmt.Errorf("%s %d of %s: %w", op, m.Broker.ID, m.Group, ErrConflict)
	}
	kvs := kvsOf(resp, i)
	if len(kvs) == 0 {
		return ledgerless.State{}, fmt.Errorf("%s %d of %s: %w", op, m.Broker.ID, m.Group, ErrConflict)
	}
	var st stateRecord
	if err := decode(string(kvs[0].Key), kvs[0].Value, &st); err != nil {
		return ledgerless.State{}, err
	}
	return st.state(), nil
}
