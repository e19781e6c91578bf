package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// MaxWait caps a long poll's wait.
const MaxWait = 5 * time.Minute

// Group reads a group linearizably. It returns ErrBrokerMetadataNotExist
// for a group that does not exist.
func (s *Service) Group(ctx context.Context, g ledgerless.GroupKey) (*ledgerless.Group, error) {
	floor := s.hub.floor(g)
	snap, err := s.existing(ctx, g)
	if err != nil {
		return nil, err
	}
	return indexed(snap, func(ledgerless.GroupKey) int64 { return floor }), nil
}

// indexed returns the snapshot's group with its long-poll index. floor
// must have been taken before the snapshot was read: a change the watch
// reports after the read began may be newer than the read, and counting it
// would make the long poll wait for a change it already missed.
func indexed(snap *store.Snapshot, floor func(ledgerless.GroupKey) int64) *ledgerless.Group {
	grp := snap.Group
	grp.Index = max(grp.Index, floor(grp.Key))
	return &grp
}

// Answer is a long poll's answer: the group, read afresh. The long polls
// that one change wakes share one read of the group (see wakeup) and,
// through Encoded, one encoding of it: answering thousands of long polls
// then costs one read, one encoding, and a write to each connection.
type Answer struct {
	*ledgerless.Group
	enc *encoding // shared by the answers of one read; nil: this answer's own
}

// encoding is a group's encoding, made by the first answer that needs it.
type encoding struct {
	once sync.Once
	b    []byte
	err  error
}

// Encoded returns encode(a.Group). Answers of the same read call encode
// only once and share its result, so encode must depend on the group
// alone, and callers must not modify the bytes.
func (a Answer) Encoded(encode func(*ledgerless.Group) ([]byte, error)) ([]byte, error) {
	if a.enc == nil {
		return encode(a.Group)
	}
	a.enc.once.Do(func() { a.enc.b, a.enc.err = encode(a.Group) })
	return a.enc.b, a.enc.err
}

// WaitGroup is the long poll: it returns group g as soon as its index
// exceeds index, or when wait has passed, read afresh either way. It
// returns ErrTooManyLongPolls at once when MaxLongPolls are waiting.
func (s *Service) WaitGroup(ctx context.Context, g ledgerless.GroupKey, index int64, wait time.Duration) (Answer, error) {
	if !s.hub.addWaiter(s.maxLongPolls) {
		return Answer{}, fmt.Errorf("%w: %d are waiting, the most this replica accepts; read the group without waiting, or poll again later",
			ledgerless.ErrTooManyLongPolls, s.maxLongPolls)
	}
	defer s.hub.removeWaiter()
	timer := time.NewTimer(min(wait, MaxWait))
	defer timer.Stop()
	w := s.hub.listen(g)
	grp, err := s.Group(ctx, g)
	if err != nil || grp.Index > index {
		return Answer{Group: grp}, err
	}
	s.hub.join(w)
	defer func() { s.hub.leave(w) }()
	for {
		select {
		case <-w.done:
			if w.err != nil || w.ans.Index > index {
				return w.ans, w.err
			}
			w = s.hub.follow(w)
		case <-timer.C:
			return s.answer(ctx, g)
		case <-s.draining:
			return s.answer(ctx, g)
		case <-ctx.Done():
			return Answer{}, ctx.Err()
		}
	}
}

// answer is g read for this long poll alone.
func (s *Service) answer(ctx context.Context, g ledgerless.GroupKey) (Answer, error) {
	grp, err := s.Group(ctx, g)
	return Answer{Group: grp}, err
}

// ClusterGroups reads every group of a cluster; an unknown cluster is
// ErrBrokerMetadataNotExist.
func (s *Service) ClusterGroups(ctx context.Context, cluster string) ([]*ledgerless.Group, error) {
	floor := s.hub.floors()
	snaps, err := s.store.ReadCluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, fmt.Errorf("cluster %s: %w", cluster, ledgerless.ErrBrokerMetadataNotExist)
	}
	out := make([]*ledgerless.Group, len(snaps))
	for i, snap := range snaps {
		out[i] = indexed(snap, floor)
	}
	return out, nil
}

// Cluster names a cluster and its groups.
type Cluster struct {
	Name   string
	Groups []string
}

// Clusters lists every cluster with its group names, sorted.
func (s *Service) Clusters(ctx context.Context) ([]Cluster, error) {
	keys, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	var out []Cluster
	for _, k := range keys {
		if len(out) == 0 || out[len(out)-1].Name != k.Cluster {
			out = append(out, Cluster{Name: k.Cluster})
		}
		out[len(out)-1].Groups = append(out[len(out)-1].Groups, k.Group)
	}
	return out, nil
}

// Config reads the runtime configuration.
func (s *Service) Config(ctx context.Context) (ledgerless.RuntimeConfig, error) {
	c, _, err := s.store.ReadConfig(ctx)
	return c, err
}

// ConfigRevision reads the runtime configuration and its revision: the
// etcd revision it was last written at, 0 while the defaults apply. The
// revision is what PatchConfigAt compares.
func (s *Service) ConfigRevision(ctx context.Context) (ledgerless.RuntimeConfig, int64, error) {
	return s.store.ReadConfig(ctx)
}

// PatchConfig applies patch to the runtime configuration, validates the
// result and writes it with a compare-and-swap; it returns the new
// configuration. A patch that fails validation changes nothing.
func (s *Service) PatchConfig(ctx context.Context, patch func(*ledgerless.RuntimeConfig) error) (ledgerless.RuntimeConfig, error) {
	c, _, err := s.PatchConfigAt(ctx, nil, patch)
	return c, err
}

// PatchConfigAt is PatchConfig on condition: with revisions, the patch
// applies only to the configuration at one of them (see ConfigRevision),
// compared in the writing transaction, and is ErrPreconditionFailed
// otherwise; without, it applies to the configuration as it is, read again
// whenever another write comes first. It also returns the new revision.
func (s *Service) PatchConfigAt(ctx context.Context, revisions []int64, patch func(*ledgerless.RuntimeConfig) error) (ledgerless.RuntimeConfig, int64, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		c, rev, err := s.store.ReadConfig(ctx)
		if err != nil {
			return c, 0, err
		}
		if revisions != nil && !slices.Contains(revisions, rev) {
			return c, rev, fmt.Errorf("patch config: %w: the configuration is at revision %d", ledgerless.ErrPreconditionFailed, rev)
		}
		c.PausedGroups = slices.Clone(c.PausedGroups)
		if err := patch(&c); err != nil {
			return c, 0, err
		}
		if err := c.Validate(); err != nil {
			return c, 0, err
		}
		written, err := s.store.WriteConfig(ctx, c, rev)
		if err == nil {
			s.log.InfoContext(ctx, "runtime config changed", "enableElectUncleanMaster", c.EnableElectUncleanMaster,
				"paused", c.Paused, "pausedGroups", c.PausedGroups,
				"defaultHeartbeatTimeoutMs", c.DefaultHeartbeatTimeout.Milliseconds(), "revision", written)
			return c, written, nil
		}
		if !isConflict(err) {
			return c, 0, err
		}
		// Another write came first: the configuration is no longer at the
		// revision read, and so at none that the caller named.
		if revisions != nil {
			return c, 0, fmt.Errorf("patch config: %w: changed concurrently", ledgerless.ErrPreconditionFailed)
		}
	}
	return ledgerless.RuntimeConfig{}, 0, conflict("patch config")
}

// Controller describes the controller: its replicas and its etcd.
type Controller struct {
	Replicas []ledgerless.Replica
	Etcd     store.EtcdStatus
	Embedded bool
}

// Controller reads the controller's metadata.
func (s *Service) Controller(ctx context.Context) (Controller, error) {
	replicas, err := s.store.ListReplicas(ctx)
	if err != nil {
		return Controller{}, err
	}
	st, err := s.store.Status(ctx)
	if err != nil {
		return Controller{}, err
	}
	return Controller{Replicas: replicas, Etcd: st, Embedded: s.embedded}, nil
}

// Replicas lists the controller replicas registered in etcd.
func (s *Service) Replicas(ctx context.Context) ([]ledgerless.Replica, error) {
	return s.store.ListReplicas(ctx)
}
