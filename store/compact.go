package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
)

// History: heartbeat data is rewritten all the time, and etcd keeps every
// revision until it compacts, so its database and the member's memory
// grow with the write rate times the history kept. The embedded member
// keeps little: every CompactionRetention it compacts to the revision it
// was at one period earlier (periodic and revision-based, so history is
// between one and two periods), and defragments when that pays (defrag).

// DefaultCompactionRetention is the embedded etcd's default history
// period. Watches that fall further behind restart from a fresh read.
const DefaultCompactionRetention = 30 * time.Second

// defragMinFree is the free space below which a defragmentation does not
// pay: it blocks the member's reads and writes while it copies the
// database, for a few pages returned.
const defragMinFree = 32 << 20

// shouldDefrag reports whether a database file of size bytes, of which
// inUse are in use, is worth defragmenting: at least defragMinFree and
// at least half of the file is free.
func shouldDefrag(size, inUse int64) bool {
	free := size - inUse
	return free >= defragMinFree && free >= size/2
}

// maintain compacts every period until ctx ends; see the History note.
func (e *Embedded) maintain(ctx context.Context, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	var prev int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		next, err := e.compactOnce(ctx, prev)
		if err != nil && ctx.Err() == nil {
			e.log.Warn(fmt.Sprintf("embedded etcd compaction: %v", err))
		}
		prev = next
	}
}

// compactOnce compacts etcd's history to revision prev (0: nothing yet)
// and defragments the member's database when that pays. It returns the
// current revision, which the next call compacts to.
func (e *Embedded) compactOnce(ctx context.Context, prev int64) (int64, error) {
	srv := e.etcd.Server
	cur := srv.KV().Rev()
	if prev > 0 && prev < cur {
		_, err := srv.Compact(ctx, &pb.CompactionRequest{Revision: prev, Physical: true})
		// Another member's compactor may have compacted further already.
		if err != nil && !errors.Is(err, mvcc.ErrCompacted) {
			return cur, fmt.Errorf("compact to %d: %w", prev, err)
		}
	}
	if e.cfg.NoDefrag {
		return cur, nil
	}
	if be := srv.Backend(); shouldDefrag(be.Size(), be.SizeInUse()) {
		if err := be.Defrag(); err != nil {
			return cur, fmt.Errorf("defragment: %w", err)
		}
	}
	return cur, nil
}
