package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// rawPrefix is where the raw baseline writes, apart from ledgerless's keys
// so that the controller's watch never sees it.
const rawPrefix = "/ledgerless-bench/raw/"

// raw is the naive heartbeat done with the etcd client directly: each
// broker has a lease and a liveness key, and a heartbeat writes the key
// (Put) and, in the Put-with-lease variant, renews the lease with
// KeepAliveOnce, as a program that does not batch anything would.
type raw struct {
	cli     *clientv3.Client
	prefix  string // of its keys
	mu      sync.Mutex
	leases  []clientv3.LeaseID
	keys    []string
	offsets []atomic.Int64
}

func newRaw(endpoint string, maxBrokers int) (*raw, error) {
	return newRawAt(endpoint, maxBrokers, rawPrefix)
}

// newRawAt is newRaw with keys below prefix.
func newRawAt(endpoint string, maxBrokers int, prefix string) (*raw, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("raw etcd client: %w", err)
	}
	return &raw{cli: cli, prefix: prefix, offsets: make([]atomic.Int64, maxBrokers)}, nil
}

func (r *raw) close() { _ = r.cli.Close() }

// grant grants leases of ttl up to n brokers, conc at a time, and writes
// each broker's liveness key once under its lease.
func (r *raw) grant(ctx context.Context, n, conc int, ttl time.Duration) error {
	r.mu.Lock()
	from := len(r.leases)
	for i := from; i < n; i++ {
		r.keys = append(r.keys, r.prefix+fmt.Sprintf("%08d", i))
	}
	r.leases = append(r.leases, make([]clientv3.LeaseID, max(n-from, 0))...)
	r.mu.Unlock()
	return forEach(ctx, from, n, conc, func(ctx context.Context, i int) error {
		l, err := r.cli.Grant(ctx, int64(ttl/time.Second))
		if err != nil {
			return fmt.Errorf("grant: %w", err)
		}
		r.leases[i] = l.ID
		_, err = r.cli.Put(ctx, r.keys[i], r.value(i), clientv3.WithLease(l.ID))
		return err
	})
}

// value is broker i's liveness record, as large as a ledgerless
// heartbeat record, with a fresh offset.
func (r *raw) value(i int) string {
	off := strconv.FormatInt(r.offsets[i].Add(1), 10)
	return `{"v":1,"epoch":1,"maxOffset":` + off + `,"confirmOffset":` + off +
		`,"electionPriority":0,"at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
}

// putWithLease is the naive heartbeat: write the key under the broker's
// lease, then renew the lease once.
func (r *raw) putWithLease(ctx context.Context, i int) error {
	if _, err := r.cli.Put(ctx, r.keys[i], r.value(i), clientv3.WithLease(r.leases[i])); err != nil {
		return err
	}
	_, err := r.cli.KeepAliveOnce(ctx, r.leases[i])
	return err
}

// put only writes the key, keeping its lease: the cost of the write alone.
func (r *raw) put(ctx context.Context, i int) error {
	_, err := r.cli.Put(ctx, r.keys[i], r.value(i), clientv3.WithIgnoreLease())
	return err
}

// status asks the etcd server for its version and database size.
func (r *raw) status(ctx context.Context) (*clientv3.StatusResponse, error) {
	return r.cli.Status(ctx, r.cli.Endpoints()[0])
}

// size counts the keys below prefix and their bytes (key and value).
func (r *raw) size(ctx context.Context, prefix string) (keys int, bytes int64, err error) {
	resp, err := r.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, 0, err
	}
	for _, kv := range resp.Kvs {
		bytes += int64(len(kv.Key) + len(kv.Value))
	}
	return len(resp.Kvs), bytes, nil
}

// forEach runs fn for i in [from, to), conc at a time, and returns the
// first error.
func forEach(ctx context.Context, from, to, conc int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	for i := from; i < to && gctx.Err() == nil; i++ {
		g.Go(func() error { return fn(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
