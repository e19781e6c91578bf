package store

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel/trace"

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

// Beat records a heartbeat of m and reads the group state. With data it
// writes the data (and at) comparing that nobody recorded data since;
// without, it only reads. Either way it compares that m's registration is
// the one m was read from. ErrConflict means m is stale. On success m is
// updated.
//
// Beats of many brokers are committed together: while one transaction is
// in flight the next beats queue, and then go to etcd as one transaction
// (group commit). Each keeps its own compares; when a batch's compares
// fail, its beats are retried one by one so that only the stale ones fail.
func (s *Store) Beat(ctx context.Context, m *Member, data *ledgerless.HeartbeatData, at time.Time) (ledgerless.State, error) {
	// The revisions are taken now: the batch may be built after the
	// caller's next use of m.
	b := &beat{key: beatKey{m.Group, m.Broker.ID}, brokerCreate: m.brokerCreate, hbRev: m.hbRev,
		data: data, at: at, done: make(chan beatResult, 1)}
	if s.tracer != nil {
		b.span = trace.SpanContextFromContext(ctx)
	}
	select {
	case s.beats <- b:
	case <-ctx.Done():
		return ledgerless.State{}, translate("heartbeat", ctx.Err())
	case <-s.closed:
		return ledgerless.State{}, errClosed
	}
	select {
	case r := <-b.done:
		if r.err == nil && data != nil {
			m.hbRev = r.rev
			m.Broker.Heartbeat, m.Broker.LastHeartbeat = *data, at
		}
		return r.state, r.err
	case <-ctx.Done():
		return ledgerless.State{}, translate("heartbeat", ctx.Err())
	}
}

// maxBeats bounds a batch: each beat takes up to two compares, and etcd
// refuses more than 128 (its default max-txn-ops) in a transaction.
const maxBeats = 60

// beatCommitters is how many batches may be in flight at once.
const beatCommitters = 4

type beat struct {
	key          beatKey
	brokerCreate int64 // the compared revisions, as when the beat was queued
	hbRev        int64
	data         *ledgerless.HeartbeatData
	at           time.Time
	done         chan beatResult
	span         trace.SpanContext // the heartbeat's span, when traced
}

type beatResult struct {
	state ledgerless.State
	rev   int64
	err   error
}

// commitBeats takes queued beats and commits them in batches until the
// store closes.
func (s *Store) commitBeats() {
	for {
		var batch []*beat
		select {
		case b := <-s.beats:
			batch = append(batch, b)
		case <-s.closed:
			return
		}
		batch, later := gather(batch[0], s.beats)
		if ok, err := s.commitBatch(batch); !ok && err == nil {
			later = append(later, batch...)
		}
		for _, b := range later {
			_, _ = s.commitBatch([]*beat{b})
		}
	}
}

// beatKey names the broker a beat is for.
type beatKey struct {
	group ledgerless.GroupKey
	id    int64
}

// gather builds a batch from first and the beats queued behind it, up to
// maxBeats. A second beat of a broker already in the batch (from another
// cached Member, or another Service on this Store) goes to later, to be
// committed on its own: etcd refuses a transaction that writes a key twice,
// and would fail the whole batch.
func gather(first *beat, queued <-chan *beat) (batch, later []*beat) {
	batch = []*beat{first}
	seen := map[beatKey]bool{first.key: true}
	for len(batch) < maxBeats {
		select {
		case b := <-queued:
			if seen[b.key] {
				later = append(later, b)
				continue
			}
			seen[b.key] = true
			batch = append(batch, b)
		default:
			return batch, later
		}
	}
	return batch, later
}

// commitBatch commits batch in one transaction and answers every beat,
// unless the compares failed for a batch of several: then it answers none
// and returns false.
func (s *Store) commitBatch(batch []*beat) (bool, error) {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	stateOp := map[ledgerless.GroupKey]int{}
	for _, b := range batch {
		g, id := b.key.group, b.key.id
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.k.member(kindBrokers, g, id)), "=", b.brokerCreate))
		if b.data != nil {
			key := s.k.member(kindHeartbeat, g, id)
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", b.hbRev))
			ops = append(ops, clientv3.OpPut(key, encode(toHeartbeatRecord(*b.data, b.at))))
		}
	}
	for _, b := range batch {
		if _, ok := stateOp[b.key.group]; !ok {
			stateOp[b.key.group] = len(ops)
			ops = append(ops, clientv3.OpGet(s.k.state(b.key.group)))
		}
	}
	ctx, span := s.batchContext(batch)
	ctx, cancel := context.WithTimeout(ctx, beatTimeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	// Ended before any heartbeat is answered: a heartbeat's trace is
	// whole once it has its answer.
	span.End()
	answer := func(b *beat, r beatResult) { b.done <- r }
	switch {
	case err != nil:
		err = translate("heartbeat", err)
		for _, b := range batch {
			answer(b, beatResult{err: err})
		}
		return false, err
	case !resp.Succeeded && len(batch) > 1:
		return false, nil
	}
	for _, b := range batch {
		r := beatResult{rev: resp.Header.Revision}
		var kvs []*mvccKV
		if resp.Succeeded {
			kvs = kvsOf(resp, stateOp[b.key.group])
		}
		if len(kvs) == 0 {
			r.err = fmt.Errorf("heartbeat %d of %s: %w", b.key.id, b.key.group, ErrConflict)
		} else {
			var st stateRecord
			r.err = decode(string(kvs[0].Key), kvs[0].Value, &st)
			r.state = st.state()
		}
		answer(b, r)
	}
	return true, nil
}

// beatTimeout bounds one heartbeat transaction.
const beatTimeout = 10 * time.Second
