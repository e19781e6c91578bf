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
//
// Every wait of a renewal ends with its caller's context: a silent link to
// etcd, which holds the streams' bytes without closing them, makes the
// renewals fail at their deadline rather than pile up behind a blocked
// send or a stream being opened. A renewal whose answer is overdue by
// stallAfter, or that fails or times out, reports the link down.
type keepAliver struct {
	lease func() etcdserverpb.LeaseClient
	link  *link
	// slots serialises the opening of each slot's stream; a channel, so
	// that a caller waiting for it can give up.
	slots [keepAliveStreams]chan struct{}

	mu      sync.Mutex // guards streams and closed
	streams [keepAliveStreams]*kaStream
	closed  bool
}

func newKeepAliver(lease func() etcdserverpb.LeaseClient, l *link) *keepAliver {
	k := &keepAliver{lease: lease, link: l}
	for i := range k.slots {
		k.slots[i] = make(chan struct{}, 1)
	}
	return k
}

// kaStream is one LeaseKeepAlive stream: a sender goroutine takes the
// renewals queued on reqs and sends them in order, a receiver goroutine
// answers them in order; both end when the stream breaks.
type kaStream struct {
	cancel context.CancelFunc
	reqs   chan kaRequest
	done   chan struct{} // closed when the stream broke
	mu     sync.Mutex    // guards pending and err
	// pending holds the answer channels of the renewals sent, by lease, in
	// the order sent: etcd answers a stream's renewals in that order.
	pending map[int64][]chan kaResult
	err     error // set once the stream broke
}

// kaQueue bounds the renewals waiting for a stream's sender: beyond it,
// callers wait for room until their deadline.
const kaQueue = 256

type kaRequest struct {
	ctx   context.Context // the caller's; a renewal it gave up on is not sent
	lease int64
	ch    chan kaResult
}

type kaResult struct {
	ttl time.Duration
	err error
}

// keepAlive renews lease once and returns its new TTL. It returns
// ErrLeaseNotFound when the lease is gone, or an error when etcd cannot be
// reached before ctx ends.
func (k *keepAliver) keepAlive(ctx context.Context, lease LeaseID) (time.Duration, error) {
	st, err := k.stream(ctx, int(uint64(lease)%keepAliveStreams))
	if err != nil {
		return 0, k.failed(ctx, err)
	}
	ch := make(chan kaResult, 1)
	select {
	case st.reqs <- kaRequest{ctx: ctx, lease: int64(lease), ch: ch}:
	case <-st.done:
		return 0, k.failed(ctx, st.broken())
	case <-ctx.Done():
		return 0, k.failed(ctx, translate("keep alive", ctx.Err()))
	}
	stall := time.NewTimer(stallAfter)
	defer stall.Stop()
	for {
		select {
		case r := <-ch:
			if r.err != nil && !errors.Is(r.err, ErrLeaseNotFound) {
				return 0, k.failed(ctx, r.err)
			}
			k.link.report(linkRequests, false)
			return r.ttl, r.err
		case <-stall.C:
			k.link.report(linkRequests, true) // and wait on: etcd may answer yet
		case <-ctx.Done():
			return 0, k.failed(ctx, translate("keep alive", ctx.Err()))
		}
	}
}

// failed reports a renewal that could not be made to the link, unless
// its caller gave up on it, and returns err.
func (k *keepAliver) failed(ctx context.Context, err error) error {
	if !errors.Is(ctx.Err(), context.Canceled) {
		k.link.report(linkRequests, true)
	}
	return err
}

// stream returns a working stream for slot i, opening one if needed.
func (k *keepAliver) stream(ctx context.Context, i int) (*kaStream, error) {
	if st, err := k.current(i); st != nil || err != nil {
		return st, err
	}
	select {
	case k.slots[i] <- struct{}{}:
		defer func() { <-k.slots[i] }()
	case <-ctx.Done():
		return nil, translate("open keep alive stream", ctx.Err())
	}
	if st, err := k.current(i); st != nil || err != nil {
		return st, err // another caller opened it meanwhile
	}
	sctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	// The stream outlives this caller, but its opening does not.
	stop := context.AfterFunc(ctx, cancel)
	stream, err := k.lease().LeaseKeepAlive(sctx)
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		cancel()
		return nil, translate("open keep alive stream", err)
	}
	st := &kaStream{cancel: cancel, reqs: make(chan kaRequest, kaQueue), done: make(chan struct{}), pending: map[int64][]chan kaResult{}}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		cancel()
		return nil, fmt.Errorf("keep alive: %w", errClosed)
	}
	k.streams[i] = st
	go st.send(stream)
	go st.receive(stream)
	return st, nil
}

// current returns slot i's stream while it works, nil when it must be
// opened, or an error when the store is closed.
func (k *keepAliver) current(i int) (*kaStream, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("keep alive: %w", errClosed)
	}
	if st := k.streams[i]; st != nil && st.broken() == nil {
		return st, nil
	}
	return nil, nil
}

// send sends the queued renewals until the stream breaks. A renewal is
// registered for its answer before it is sent, under mu but not during
// the send: an in-process stream's Send waits for etcd to take the
// request, and etcd may first wait for the receiver, which takes mu, to
// take an answer.
func (st *kaStream) send(stream etcdserverpb.Lease_LeaseKeepAliveClient) {
	for {
		var r kaRequest
		select {
		case r = <-st.reqs:
		case <-st.done:
			return
		}
		if r.ctx.Err() != nil {
			continue // its caller gave up while it was queued
		}
		st.mu.Lock()
		if st.err != nil {
			st.mu.Unlock()
			return
		}
		st.pending[r.lease] = append(st.pending[r.lease], r.ch)
		st.mu.Unlock()
		if err := stream.Send(&etcdserverpb.LeaseKeepAliveRequest{ID: r.lease}); err != nil {
			st.fail(translate("keep alive", err))
			return
		}
	}
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
		close(st.done)
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
