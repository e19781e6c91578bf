// Package store owns everything ledgerless keeps in etcd: the key layout,
// the JSON records, compare-and-swap transactions, leases and watches, and
// the embedded etcd server. No other package formats a key or imports the
// etcd client; callers get the project's own types plus revisions.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/tracing"
)

// ErrConflict reports a failed compare: someone changed what the caller
// read. Callers retry from a fresh read.
var ErrConflict = errors.New("conflict: state changed concurrently")

// LeaseID identifies an etcd lease.
type LeaseID int64

// Store reads and writes ledgerless state in etcd below one prefix.
type Store struct {
	cli  *clientv3.Client
	k    keys
	ka   *keepAliver
	link *link // whether etcd answers, as this Store's round trips find

	endpoints []string        // etcd's client URLs, as reported
	tracer    trace.Tracer    // nil: tracing off
	obs       RequestObserver // nil: requests are not timed

	cfg configCache // the runtime configuration last decoded

	beats  chan *beat    // heartbeats waiting to be committed
	closed chan struct{} // closed by Close
	close  sync.Once
}

// errClosed answers the requests made after Close: the replica is shutting
// down, and the caller should try another.
var errClosed = fmt.Errorf("store closed: %w", ledgerless.ErrUnavailable)

// newStore returns a Store that owns cli and renews leases through lease,
// configured by cfg; l is told of cli's requests already.
func newStore(cli *clientv3.Client, lease func() etcdserverpb.LeaseClient, cfg ClientConfig, l *link) *Store {
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{cli: cli, k: keys{prefix: prefix}, ka: newKeepAliver(lease, l), link: l, endpoints: cfg.Endpoints,
		tracer: tracing.Tracer(cfg.TracerProvider), obs: cfg.Observer, beats: make(chan *beat), closed: make(chan struct{})}
	for range beatCommitters {
		go s.commitBeats()
	}
	return s
}

// Close stops the keep-alive streams and closes the etcd client.
func (s *Store) Close() {
	s.close.Do(func() {
		close(s.closed)
		s.ka.close()
		_ = s.cli.Close()
	})
}

// translate maps etcd client errors to the project's errors once.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", op, ledgerless.ErrUnavailable, err)
	}
	switch codeOf(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.ResourceExhausted:
		return fmt.Errorf("%s: %w: %w", op, ledgerless.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Ready checks that etcd answers a linearizable read within ctx.
func (s *Store) Ready(ctx context.Context) error {
	_, err := s.cli.Get(ctx, s.k.config(), clientv3.WithCountOnly())
	return translate("etcd ready", err)
}

// GrantLease grants a lease of the given TTL (rounded up to whole seconds,
// as etcd counts them).
func (s *Store) GrantLease(ctx context.Context, ttl time.Duration) (LeaseID, error) {
	secs := int64((ttl + time.Second - 1) / time.Second)
	resp, err := s.cli.Grant(ctx, secs)
	if err != nil {
		return 0, translate("grant lease", err)
	}
	return LeaseID(resp.ID), nil
}

// RevokeLease revokes a lease and deletes the keys attached to it. A lease
// that is already gone is not an error.
func (s *Store) RevokeLease(ctx context.Context, id LeaseID) error {
	_, err := s.cli.Revoke(ctx, clientv3.LeaseID(id))
	if err != nil && codeOf(err) != codes.NotFound && !isLeaseNotFound(err) {
		return translate("revoke lease", err)
	}
	return nil
}

// Snapshot is a group's state as read at one revision, with what a
// transaction needs to compare against it.
type Snapshot struct {
	Group    ledgerless.Group
	Config   ledgerless.RuntimeConfig // the runtime configuration at the same revision
	Revision int64                    // etcd revision of the read
	stateRev int64                    // ModRevision of the state key; 0 when the group never existed
	removed  bool                     // the group was removed; Group.State is what a new one continues from
	fence    string                   // the restore fence of a fenced state, kept by its writes
	members  map[int64]memberRevs
}

// Exists reports whether the group has been created (and not removed).
func (s *Snapshot) Exists() bool { return s.stateRev != 0 && !s.removed }

type memberRevs struct {
	broker      int64 // ModRevision of the registration
	aliveCreate int64 // CreateRevision of the alive key; 0 when not alive
	lease       LeaseID
	hb          int64 // ModRevision of the heartbeat data; 0 when none
}

// ReadGroup reads one group, linearizably and at one revision.
func (s *Store) ReadGroup(ctx context.Context, g ledgerless.GroupKey) (*Snapshot, error) {
	snaps, cfg, err := s.readGroups(ctx, clientv3.OpGet(s.k.state(g)), func(kind string) string { return s.k.group(kind, g) })
	if err != nil {
		return nil, fmt.Errorf("read group %s: %w", g, err)
	}
	if snap, ok := snaps[g]; ok {
		return snap, nil
	}
	// A group that does not exist starts above every restore (see Fence).
	floor, fence, err := s.restoreFloor(ctx)
	if err != nil {
		return nil, fmt.Errorf("read group %s: %w", g, err)
	}
	snap := &Snapshot{Group: ledgerless.Group{Key: g}, Config: cfg, members: map[int64]memberRevs{}}
	if floor > 0 {
		snap.Group.State = ledgerless.State{MasterEpoch: floor, EpochBase: floor, SyncStateSetEpoch: floor, NextBrokerID: floor, Restored: true}
		snap.fence = fence
	}
	return snap, nil
}

// ReadCluster reads every group of a cluster, sorted by name.
func (s *Store) ReadCluster(ctx context.Context, cluster string) ([]*Snapshot, error) {
	snaps, _, err := s.readGroups(ctx, clientv3.OpGet(s.k.cluster(kindState, cluster), clientv3.WithPrefix()),
		func(kind string) string { return s.k.cluster(kind, cluster) })
	if err != nil {
		return nil, fmt.Errorf("read cluster %s: %w", cluster, err)
	}
	out := make([]*Snapshot, 0, len(snaps))
	for _, snap := range snaps {
		if snap.Exists() {
			out = append(out, snap)
		}
	}
	slices.SortFunc(out, func(a, b *Snapshot) int { return compareKeys(a.Group.Key, b.Group.Key) })
	return out, nil
}

// ListGroups lists every group of every cluster, sorted.
func (s *Store) ListGroups(ctx context.Context) ([]ledgerless.GroupKey, error) {
	resp, err := s.cli.Get(ctx, s.k.kind(kindState), clientv3.WithPrefix())
	if err != nil {
		return nil, translate("list groups", err)
	}
	out := make([]ledgerless.GroupKey, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		p, rec, ok, err := s.stateOf(kv)
		if err != nil {
			return nil, err
		}
		if ok && !rec.Removed {
			out = append(out, p.group)
		}
	}
	return out, nil
}

func compareKeys(a, b ledgerless.GroupKey) int {
	if a.Cluster != b.Cluster {
		if a.Cluster < b.Cluster {
			return -1
		}
		return 1
	}
	switch {
	case a.Group < b.Group:
		return -1
	case a.Group > b.Group:
		return 1
	}
	return 0
}

// readGroups reads state, registrations, liveness, heartbeat data and the
// runtime configuration in one transaction, so that every group is seen at
// the same revision.
func (s *Store) readGroups(ctx context.Context, stateOp clientv3.Op, prefix func(kind string) string) (map[ledgerless.GroupKey]*Snapshot, ledgerless.RuntimeConfig, error) {
	var cfg ledgerless.RuntimeConfig
	resp, err := s.cli.Txn(ctx).Then(
		stateOp,
		clientv3.OpGet(prefix(kindBrokers), clientv3.WithPrefix()),
		clientv3.OpGet(prefix(kindAlive), clientv3.WithPrefix()),
		clientv3.OpGet(prefix(kindHeartbeat), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.config()),
	).Commit()
	if err != nil {
		return nil, cfg, translate("read", err)
	}
	cfg, _, err = s.configFrom(kvsOf(resp, 4))
	if err != nil {
		return nil, cfg, err
	}
	snaps := map[ledgerless.GroupKey]*Snapshot{}
	for _, kv := range kvsOf(resp, 0) {
		p, rec, ok, err := s.stateOf(kv)
		if err != nil {
			return nil, cfg, err
		}
		if !ok {
			continue
		}
		snaps[p.group] = &Snapshot{
			Group:  ledgerless.Group{Key: p.group, State: rec.state(), Index: kv.ModRevision, Paused: cfg.GroupPaused(p.group)},
			Config: cfg, Revision: resp.Header.Revision, stateRev: kv.ModRevision, removed: rec.Removed, fence: rec.Restored, members: map[int64]memberRevs{},
		}
	}
	brokers := map[ledgerless.GroupKey]map[int64]*ledgerless.Broker{}
	for i, kind := range []string{kindBrokers, kindAlive, kindHeartbeat} {
		for _, kv := range kvsOf(resp, i+1) {
			p, ok := s.k.parse(string(kv.Key))
			snap := snaps[p.group]
			if !ok || snap == nil {
				continue // members of a group being created or removed
			}
			if brokers[p.group] == nil {
				brokers[p.group] = map[int64]*ledgerless.Broker{}
			}
			b := brokers[p.group][p.id]
			if b == nil {
				b = &ledgerless.Broker{ID: p.id}
				brokers[p.group][p.id] = b
			}
			m := snap.members[p.id]
			if err := applyMember(kind, kv.Key, kv.Value, b, &m); err != nil {
				return nil, cfg, err
			}
			switch kind {
			case kindBrokers:
				m.broker = kv.ModRevision
			case kindAlive:
				m.aliveCreate, m.lease = kv.CreateRevision, LeaseID(kv.Lease)
			case kindHeartbeat:
				m.hb = kv.ModRevision
			}
			if kind != kindHeartbeat {
				snap.Group.Index = max(snap.Group.Index, kv.ModRevision)
			}
			snap.members[p.id] = m
		}
	}
	for g, snap := range snaps {
		for id, b := range brokers[g] {
			if snap.members[id].broker == 0 {
				delete(snap.members, id) // liveness or data left without a registration
				continue
			}
			snap.Group.Brokers = append(snap.Group.Brokers, *b)
		}
		slices.SortFunc(snap.Group.Brokers, func(a, b ledgerless.Broker) int { return cmp.Compare(a.ID, b.ID) })
	}
	return snaps, cfg, nil
}

func applyMember(kind string, key, value []byte, b *ledgerless.Broker, m *memberRevs) error {
	switch kind {
	case kindBrokers:
		var rec brokerRecord
		if err := decode(string(key), value, &rec); err != nil {
			return err
		}
		b.Address, b.RegisterCode = rec.Address, rec.RegisterCode
		b.HeartbeatTimeout = time.Duration(rec.HeartbeatTimeoutMs) * time.Millisecond
	case kindAlive:
		b.Alive = true
	case kindHeartbeat:
		var rec heartbeatRecord
		if err := decode(string(key), value, &rec); err != nil {
			return err
		}
		b.Heartbeat, b.LastHeartbeat = rec.data(), rec.At
	}
	return nil
}

type mvccKV = mvccpb.KeyValue

func kvsOf(resp *clientv3.TxnResponse, i int) []*mvccKV {
	return resp.Responses[i].GetResponseRange().Kvs
}

// Scan is what the reconcile reads of every group at one revision.
type Scan struct {
	Groups            int            // groups that exist
	AliveBrokers      int            // brokers whose lease is alive
	WithoutLiveMaster []ScannedGroup // groups whose master is none or not alive
	// Config is the runtime configuration, read with the rest.
	Config ledgerless.RuntimeConfig
}

// ScannedGroup is what the reconcile sees of a group without a live
// master: its state and which of its brokers are alive.
type ScannedGroup struct {
	Key   ledgerless.GroupKey
	State ledgerless.State
	Alive []int64 // ids of its brokers whose lease is alive, ascending
}

// Scan reads only state records, alive keys and the runtime
// configuration, in one revision, for the reconcile.
func (s *Store) Scan(ctx context.Context) (Scan, error) {
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.kind(kindState), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.kind(kindAlive), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
		clientv3.OpGet(s.k.config()),
	).Commit()
	if err != nil {
		return Scan{}, translate("scan groups", err)
	}
	cfg, _, err := s.configFrom(kvsOf(resp, 2))
	if err != nil {
		return Scan{}, err
	}
	alive := map[ledgerless.GroupKey][]int64{}
	n := 0
	for _, kv := range kvsOf(resp, 1) {
		if p, ok := s.k.parse(string(kv.Key)); ok && p.kind == kindAlive {
			alive[p.group] = append(alive[p.group], p.id) // keys sort by padded id
			n++
		}
	}
	out := Scan{AliveBrokers: n, Config: cfg}
	for _, kv := range kvsOf(resp, 0) {
		p, rec, ok, err := s.stateOf(kv)
		if err != nil {
			return Scan{}, err
		}
		if !ok || rec.Removed {
			continue
		}
		out.Groups++
		ids := alive[p.group]
		if rec.MasterBrokerID == 0 || !slices.Contains(ids, rec.MasterBrokerID) {
			out.WithoutLiveMaster = append(out.WithoutLiveMaster, ScannedGroup{Key: p.group, State: rec.state(), Alive: ids})
		}
	}
	return out, nil
}

// stateOf decodes a state key and record; ok is false for a key that is
// not a group's state.
func (s *Store) stateOf(kv *mvccKV) (p parsed, rec stateRecord, ok bool, err error) {
	if p, ok = s.k.parse(string(kv.Key)); !ok || p.kind != kindState {
		return p, rec, false, nil
	}
	return p, rec, true, decode(string(kv.Key), kv.Value, &rec)
}
