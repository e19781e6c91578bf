package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// Fence is the restore fence: what makes a restore from a snapshot safe for
// brokers that lived on after the snapshot was taken.
//
// Since the snapshot, groups may have failed over: their brokers know
// masterEpochs and syncStateSetEpochs above the snapshot's, and brokers
// ignore a role change at an epoch they already passed (stock RocketMQ
// brokers too). Acting on the snapshot's state as it stands would at
// best be ignored, and at worst elect a second master at an epoch the
// brokers already know. So, before any replica elects, the fence rewrites
// every group's state:
//
//   - masterEpoch and syncStateSetEpoch go up by EpochMargin, above what
//     brokers can know unless a group changed epoch more than EpochMargin
//     times since the snapshot;
//   - the master becomes none, at that epoch: an old master sees a newer
//     epoch without it and stops acting as master;
//   - liveness and heartbeat data are deleted, being as old as the
//     snapshot; the group is marked restored (a version-2 record).
//
// A restored group then elects only from brokers that heartbeat to the
// restored state, once all of them did or a heartbeat timeout passed,
// whatever the old SyncStateSet says, at an epoch above every epoch a
// broker reported (election.Decide). The winner is the broker with the
// newest data, normally the master the brokers followed: brokers resume
// under it at an epoch higher than any they saw. A removed group's epochs
// go up by the margin too, for a group created again under its name.
//
// Broker ids go up by the margin too: a broker registered after the
// snapshot is unknown to the restored state, registers again and must not
// get an id another broker had since the snapshot.
//
// Groups created after the snapshot are not in it. A group that does not
// exist starts, after a restore, where a fenced group stands: its epochs
// and next broker id at the sum of every applied fence's margin, fenced
// (see Store.ReadGroup), so that its brokers too see epochs go up only.
//
// A fence is applied once however many replicas try: restores/<ID> records
// it, and a group already fenced by ID is not fenced again.
type Fence struct {
	ID          string `json:"id"` // names the snapshot: a prefix of its sha256
	EpochMargin int64  `json:"epochMargin"`
}

// pendingFenceFile is left in the data dir by Restore.
const pendingFenceFile = "restore-fence.json"

func (f Fence) writePending(dataDir string) error {
	b, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(dataDir, pendingFenceFile), b, 0o600); err != nil {
		return fmt.Errorf("restore fence: %w", err)
	}
	return nil
}

// PendingFence returns the fence Restore left in dataDir; ok is false when
// there is none.
func PendingFence(dataDir string) (f Fence, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, pendingFenceFile))
	if errors.Is(err, os.ErrNotExist) {
		return Fence{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err == nil && (f.ID == "" || f.EpochMargin <= 0) {
		err = errors.New("no id or no epoch margin")
	}
	if err != nil {
		return Fence{}, false, fmt.Errorf("restore fence in %s: %w", dataDir, err)
	}
	return f, true, nil
}

// ClearPendingFence removes the pending fence from dataDir, once applied.
func ClearPendingFence(dataDir string) error {
	if err := os.Remove(filepath.Join(dataDir, pendingFenceFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore fence: %w", err)
	}
	return nil
}

type fenceRecord struct {
	V           int       `json:"v"`
	EpochMargin int64     `json:"epochMargin"`
	Groups      int       `json:"groups"`
	Replica     string    `json:"replica"`
	AppliedAt   time.Time `json:"appliedAt"`
}

// FenceResult says what ApplyFence did.
type FenceResult struct {
	Groups  int  // groups fenced by this call
	Already bool // the fence had been applied before
}

// ApplyFence applies f (see Fence), each group in one transaction that
// compares the group's state revision, and records it as applied. It is
// idempotent: a fence applied before changes nothing.
func (s *Store) ApplyFence(ctx context.Context, f Fence, replica string, now time.Time) (FenceResult, error) {
	if f.ID == "" || f.EpochMargin <= 0 {
		return FenceResult{}, errors.New("apply restore fence: no id or no epoch margin")
	}
	guard := s.k.replica(kindRestores, f.ID)
	if done, err := s.fenceApplied(ctx, guard); err != nil || done {
		return FenceResult{Already: done}, err
	}
	var res FenceResult
	for attempt := 0; ; attempt++ {
		n, conflicts, err := s.fenceGroups(ctx, f, guard, replica, now)
		res.Groups += n
		if err != nil {
			return res, err
		}
		if conflicts == 0 {
			break
		}
		if done, err := s.fenceApplied(ctx, guard); err != nil || done {
			return FenceResult{Groups: res.Groups, Already: done}, err // another replica finished it
		}
		if attempt == maxFenceAttempts {
			return res, fmt.Errorf("apply restore fence: %w: %d groups kept changing", ErrConflict, conflicts)
		}
	}
	rec := fenceRecord{V: schemaVersion, EpochMargin: f.EpochMargin, Groups: res.Groups, Replica: replica, AppliedAt: now.UTC()}
	if _, err := s.cli.Put(ctx, guard, encode(rec)); err != nil {
		return res, translate("apply restore fence", err)
	}
	return res, nil
}

const maxFenceAttempts = 10

func (s *Store) fenceApplied(ctx context.Context, guard string) (bool, error) {
	resp, err := s.cli.Get(ctx, guard, clientv3.WithCountOnly())
	if err != nil {
		return false, translate("apply restore fence", err)
	}
	return resp.Count > 0, nil
}

// fenceGroups fences every group not fenced by f yet; conflicts counts
// the groups that changed under it.
func (s *Store) fenceGroups(ctx context.Context, f Fence, guard, replica string, now time.Time) (fenced, conflicts int, err error) {
	resp, err := s.cli.Get(ctx, s.k.kind(kindState), clientv3.WithPrefix())
	if err != nil {
		return 0, 0, translate("apply restore fence", err)
	}
	for _, kv := range resp.Kvs {
		p, rec, ok, err := s.stateOf(kv)
		if err != nil {
			return fenced, conflicts, err
		}
		if !ok || rec.Restored == f.ID {
			continue
		}
		g := p.group
		ops := []clientv3.Op{}
		next := rec
		next.MasterEpoch += f.EpochMargin
		next.SyncStateSetEpoch += f.EpochMargin
		next.NextBrokerID += f.EpochMargin
		next.Restored = f.ID
		if rec.Removed {
			// Nothing to misread in what is left of a removed group: the
			// record stays at version 1, whose readers ignore the mark.
			next.EpochBase = next.MasterEpoch
		} else {
			next.V = maxSchemaVersion
			next.MasterBrokerID, next.MasterAddress = 0, ""
			h := ledgerless.HistoryEntry{MasterEpoch: next.MasterEpoch, Time: now, Reason: ledgerless.ReasonRestored,
				OldMasterBrokerID: rec.MasterBrokerID, Replica: replica}
			ops = append(ops,
				clientv3.OpDelete(s.k.group(kindAlive, g), clientv3.WithPrefix()),
				clientv3.OpDelete(s.k.group(kindHeartbeat, g), clientv3.WithPrefix()),
				clientv3.OpPut(s.k.member(kindHistory, g, next.MasterEpoch), encode(toHistoryRecord(h))))
		}
		ops = append(ops, clientv3.OpPut(string(kv.Key), encode(next)))
		// Once the fence is recorded as applied, replicas elect: a group
		// changed since is no longer to be fenced.
		tr, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision),
			clientv3.Compare(clientv3.CreateRevision(guard), "=", 0)).Then(ops...).Commit()
		if err != nil {
			return fenced, conflicts, translate("fence "+g.String(), err)
		}
		if !tr.Succeeded {
			conflicts++
			continue
		}
		fenced++
	}
	return fenced, conflicts, nil
}

// restoreFloor is where a group that does not exist starts: the sum of the
// margins of every fence applied, and the latest fence's id ("" and 0
// when no restore ever happened).
func (s *Store) restoreFloor(ctx context.Context) (floor int64, fence string, err error) {
	resp, err := s.cli.Get(ctx, s.k.kind(kindRestores), clientv3.WithPrefix())
	if err != nil {
		return 0, "", translate("read restore fences", err)
	}
	var latest int64
	for _, kv := range resp.Kvs {
		var rec fenceRecord
		if err := decode(string(kv.Key), kv.Value, &rec); err != nil {
			return 0, "", err
		}
		floor += rec.EpochMargin
		if kv.ModRevision > latest {
			latest, fence = kv.ModRevision, strings.TrimPrefix(string(kv.Key), s.k.kind(kindRestores))
		}
	}
	return floor, fence, nil
}
