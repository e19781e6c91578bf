package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// replicaTTL is the lease TTL of a replica's presence key: a replica that
// stops renewing is shown as not alive this long after.
const replicaTTL = 10 * time.Second

// RunReplica registers replica r and keeps its presence key alive until ctx
// ends, then revokes it. It re-registers when the lease is lost (etcd was
// unreachable for longer than the TTL) and returns only when ctx ends.
func (s *Store) RunReplica(ctx context.Context, r ledgerless.Replica, onError func(error)) error {
	rec := encode(replicaRecord{V: schemaVersion, Address: r.Address, Version: r.Version, StartedAt: r.StartedAt.UTC()})
	for {
		err := s.presence(ctx, r.ID, rec)
		if ctx.Err() != nil {
			return nil
		}
		onError(fmt.Errorf("replica presence %s: %w", r.ID, err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// presence holds one lease for the replica until ctx ends or the lease is lost.
func (s *Store) presence(ctx context.Context, id, rec string) error {
	grant, err := s.cli.Grant(ctx, int64(replicaTTL/time.Second))
	if err != nil {
		return translate("grant", err)
	}
	defer func() {
		revokeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_, _ = s.cli.Revoke(revokeCtx, grant.ID)
	}()
	if _, err := s.cli.Txn(ctx).Then(
		clientv3.OpPut(s.k.replica(kindReplicas, id), rec),
		clientv3.OpPut(s.k.replica(kindReplicaAlive, id), "", clientv3.WithLease(grant.ID)),
	).Commit(); err != nil {
		return translate("register", err)
	}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.cli.KeepAlive(kctx, grant.ID)
	if err != nil {
		return translate("keep alive", err)
	}
	for range ch {
	}
	return fmt.Errorf("lease %x lost", grant.ID)
}

// ListReplicas lists every replica that ever registered, alive or not.
func (s *Store) ListReplicas(ctx context.Context) ([]ledgerless.Replica, error) {
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.kind(kindReplicas), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.kind(kindReplicaAlive), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
	).Commit()
	if err != nil {
		return nil, translate("list replicas", err)
	}
	alive := map[string]bool{}
	for _, kv := range kvsOf(resp, 1) {
		alive[strings.TrimPrefix(string(kv.Key), s.k.kind(kindReplicaAlive))] = true
	}
	var out []ledgerless.Replica
	for _, kv := range kvsOf(resp, 0) {
		var rec replicaRecord
		if err := decode(string(kv.Key), kv.Value, &rec); err != nil {
			return nil, err
		}
		id := strings.TrimPrefix(string(kv.Key), s.k.kind(kindReplicas))
		out = append(out, ledgerless.Replica{ID: id, Address: rec.Address, Version: rec.Version,
			StartedAt: rec.StartedAt, Alive: alive[id]})
	}
	slices.SortFunc(out, func(a, b ledgerless.Replica) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// EtcdStatus describes the etcd cluster as the controller sees it.
type EtcdStatus struct {
	Endpoints []string
	Leader    string // name of the leader member, "" when unknown
}

// Status asks etcd for its members and leader.
func (s *Store) Status(ctx context.Context) (EtcdStatus, error) {
	st := EtcdStatus{Endpoints: s.endpoints}
	members, err := s.cli.MemberList(ctx)
	if err != nil {
		return st, translate("member list", err)
	}
	for _, ep := range st.Endpoints {
		resp, err := s.cli.Status(ctx, ep)
		if err != nil {
			continue
		}
		for _, m := range members.Members {
			if m.ID == resp.Leader {
				st.Leader = m.Name
			}
		}
		break
	}
	return st, nil
}
