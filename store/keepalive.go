package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrLeaseNotFound reports that a lease expired or was revoked.
var ErrLeaseNotFound = errors.New("lease not found")

func isLeaseNotFound(err error) bool { return errors.Is(err, rpctypes.ErrLeaseNotFound) }

// keepAliveStreams is how many LeaseKeepAlive streams a Store keeps open.
// etcd renews the requests of one stream one after another, so a few
// streams let renewals of different leases proceed in parallel.
const keepAliveStreams = 8

// keepAliver renews leases one at a time, on demand, over a few long-lived
// LeaseKeepAlive streams shared by every heartbeat of the replica. The
// client library offers either a background keep-alive (which would keep a
// broker alive without its heartbeats) or KeepAliveOnce (a new gRPC stream
// per call); a heartbeat needs exactly one renewal, cheaply.
type keepAliver struct {
	lease   func() etcdserverpb.LeaseClient
	mu      sync.Mutex
	streams [keepAliveStreams]*kaStream
	closed  bool
}

type kaStream struct {
	cancel context.CancelFunc
	// sendMu serialises Send. It is not mu: an in-process stream's Send
	// waits for etcd to take the request, and etcd may first wait for the
	// receiver, which takes mu, to take an answer.
	sendMu  sync.Mutex
	send    func(*etcdserverpb.LeaseKeepAliveRequest) error
	mu      sync.Mutex // guards pending and err
	pending map[int64][]chan kaResult
	err     error // set once the stream broke
}

type kaResult struct {
	ttl time.Duration
	err error
}

// keepAlive renews lease once and returns its new TTL. It returns
// ErrLeaseNotFound when the lease is gone, or an error when etcd cannot be
// reached before ctx ends.
func (k *keepAliver) keepAlive(ctx context.Context, lease LeaseID) (time.Duration, error) {
	st, err := k.stream(int(uint64(lease) % keepAliveStreams))
	if err != nil {
		return 0, err
	}
	ch := make(chan kaResult, 1)
	st.mu.Lock()
	if st.err != nil {
		st.mu.Unlock()
		return 0, st.err
	}
	st.pending[int64(lease)] = append(st.pending[int64(lease)], ch)
	st.mu.Unlock()
	st.sendMu.Lock()
	err = st.send(&etcdserverpb.LeaseKeepAliveRequest{ID: int64(lease)})
	st.sendMu.Unlock()
	if err != nil {
		st.fail(translate("keep alive", err))
	}
	select {
	case r := <-ch:
		return r.ttl, r.err
	case <-ctx.Done():
		return 0, translate("keep alive", ctx.Err())
	}
}

// stream returns a working stream for slot i, opening one if needed.
func (k *keepAliver) stream(i int) (*kaStream, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("keep alive: %w", errClosed)
	}
	if st := k.streams[i]; st != nil && st.broken() == nil {
		return st, nil
	}
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	stream, err := k.lease().LeaseKeepAlive(ctx)
	if err != nil {
		cancel()
		return nil, translate("open keep alive stream", err)
	}
	st := &kaStream{cancel: cancel, send: stream.Send, pending: map[int64][]chan kaResult{}}
	k.streams[i] = st
	go st.receive(stream)
	return st, nil
}

func (st *kaStream) receive(stream etcdserverpb.Lease_LeaseKeepAliveClient) {
	for {
		resp, err := stream.Recv()
		if err != nil {
			st.fail(translate("keep alive", err))
			return
		}
		r := kaResult{ttl: time.Duration(resp.TTL) * time.Second}
		if resp.TTL <= 0 {
			r.err = fmt.Errorf("lease %x: %w", resp.ID, ErrLeaseNotFound)
		}
		st.mu.Lock()
		if q := st.pending[resp.ID]; len(q) > 0 {
			q[0] <- r
			if len(q) == 1 {
				delete(st.pending, resp.ID)
			} else {
				st.pending[resp.ID] = q[1:]
			}
		}
		st.mu.Unlock()
	}
}

// fail marks the stream broken and answers every waiter with err.
func (st *kaStream) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil {
		st.err = err
		st.cancel()
	}
	for id, q := range st.pending {
		for _, ch := range q {
			ch <- kaResult{err: err}
		}
		delete(st.pending, id)
	}
}

func (st *kaStream) broken() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

func (k *keepAliver) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	for _, st := range k.streams {
		if st != nil {
			st.fail(fmt.Errorf("keep alive: %w", errClosed))
		}
	}
}

// KeepAlive renews a lease once; see keepAliver. A renewal is safe to
// repeat: one that broke with its stream (a member gone, a leader lost)
// is repeated on a new stream (see retry.go).
func (s *Store) KeepAlive(ctx context.Context, lease LeaseID) (ttl time.Duration, err error) {
	err = retry(ctx, func(ctx context.Context) error {
		start := time.Now()
		ttl, err = s.ka.keepAlive(ctx, lease)
		if s.obs != nil {
			s.obs.EtcdRequest("LeaseKeepAlive", time.Since(start))
		}
		return err
	})
	return ttl, err
}
