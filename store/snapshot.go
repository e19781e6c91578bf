package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// SnapshotInfo describes a snapshot file.
type SnapshotInfo struct {
	Path     string
	Bytes    int64  // size of the file
	Revision int64  // etcd revision the snapshot was taken at
	Keys     int    // keys in the snapshot, every prefix counted
	SHA256   string // of the whole file: it names the restore fence
	Version  string // storage version of the etcd that wrote it
}

// Progress is told how many bytes of a snapshot were written so far, and
// the size expected (0 when unknown).
type Progress func(written, expected int64)

// SaveSnapshot writes a consistent snapshot of the whole etcd keyspace,
// through the etcd maintenance API, to path: to path.part first, synced,
// checked (bolt's consistency check and the snapshot's own checksum), and
// renamed, so that path is never a partial snapshot. progress is called as
// the bytes arrive. It returns when the snapshot is saved or ctx ends.
func (s *Store) SaveSnapshot(ctx context.Context, path string, progress Progress) (SnapshotInfo, error) {
	var expected int64
	if len(s.endpoints) > 0 {
		if st, err := s.cli.Status(ctx, s.endpoints[0]); err == nil {
			expected = st.DbSize
		}
	}
	resp, err := s.cli.SnapshotWithVersion(ctx)
	if err != nil {
		return SnapshotInfo{}, translate("snapshot", err)
	}
	defer resp.Snapshot.Close()
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(part) // a no-op once renamed
	n, err := io.Copy(f, &progressReader{r: resp.Snapshot, progress: progress, expected: expected})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return SnapshotInfo{}, translate("snapshot "+path, err)
	}
	info, err := SnapshotStatus(part)
	if err != nil {
		return SnapshotInfo{}, err
	}
	if err := os.Rename(part, path); err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", err)
	}
	info.Path, info.Bytes = path, n
	return info, nil
}

type progressReader struct {
	r        io.Reader
	progress Progress
	expected int64
	n        int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.progress != nil && n > 0 {
		p.progress(p.n, p.expected)
	}
	return n, err
}

// SnapshotStatus checks a snapshot file (bolt's consistency check) and
// describes it.
func SnapshotStatus(path string) (SnapshotInfo, error) {
	st, err := snapshot.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	sum, size, err := fileSHA256(path)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return SnapshotInfo{Path: path, Bytes: size, Revision: st.Revision, Keys: st.TotalKey, SHA256: sum, Version: st.Version}, nil
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Restore defaults.
const (
	// DefaultEpochMargin is how much a restore raises every group's
	// masterEpoch and syncStateSetEpoch: more epoch changes than a group
	// goes through between two snapshots.
	DefaultEpochMargin = 1000
	// DefaultRevisionBump is how much a restore raises etcd's revision,
	// which is the long-poll index brokers hold: more revisions than the
	// controller writes between two snapshots (about 10⁴ a second with
	// 10,000 brokers, so 11 days).
	DefaultRevisionBump = 10_000_000_000
)

// RestoreConfig says what to restore where.
type RestoreConfig struct {
	Snapshot string // a file SaveSnapshot (or etcdctl snapshot save) wrote
	// DataDir, Name, PeerURL and InitialCluster are the embedded member's
	// --data-dir, --embedded-name, --embedded-peer-url and
	// --embedded-initial-cluster; etcd's files go to DataDir/etcd, which
	// must not hold a member already.
	DataDir, Name, PeerURL, InitialCluster string
	EpochMargin                            int64  // default DefaultEpochMargin
	RevisionBump                           uint64 // default DefaultRevisionBump
}

// Restore makes DataDir an embedded etcd member holding the snapshot, with
// etcd's own restore (etcdutl), the revision raised by RevisionBump and
// every older revision marked compacted. It leaves the restore fence
// pending in DataDir (see Fence): the replica started on DataDir applies
// it before it elects anything. Every member of a multi-member cluster is
// restored from the same file with the same InitialCluster.
func Restore(cfg RestoreConfig) (SnapshotInfo, Fence, error) {
	if cfg.Snapshot == "" || cfg.DataDir == "" || cfg.Name == "" || cfg.PeerURL == "" {
		return SnapshotInfo{}, Fence{}, errors.New("restore: snapshot, data dir, member name and peer URL are required")
	}
	if cfg.EpochMargin <= 0 {
		cfg.EpochMargin = DefaultEpochMargin
	}
	if cfg.RevisionBump == 0 {
		cfg.RevisionBump = DefaultRevisionBump
	}
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = cfg.Name + "=" + cfg.PeerURL
	}
	info, err := SnapshotStatus(cfg.Snapshot)
	if err != nil {
		return SnapshotInfo{}, Fence{}, err
	}
	dir := filepath.Join(cfg.DataDir, "etcd")
	err = snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        cfg.Snapshot,
		Name:                cfg.Name,
		OutputDataDir:       dir,
		PeerURLs:            []string{cfg.PeerURL},
		InitialCluster:      cfg.InitialCluster,
		InitialClusterToken: embed.NewConfig().InitialClusterToken, // the embedded member's
		RevisionBump:        cfg.RevisionBump,
		MarkCompacted:       true,
	})
	if err != nil {
		return SnapshotInfo{}, Fence{}, fmt.Errorf("restore %s into %s: %w", cfg.Snapshot, dir, err)
	}
	f := Fence{ID: info.SHA256[:16], EpochMargin: cfg.EpochMargin}
	if err := f.writePending(cfg.DataDir); err != nil {
		return SnapshotInfo{}, Fence{}, err
	}
	return info, f, nil
}
