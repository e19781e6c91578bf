package store

import (
	"context"
	"errors"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// Transient etcd failures (a leader change or election, a proposal that
// timed out, a member that went away) last about an election timeout.
// The requests that are safe to repeat are retried through them, until
// the caller's context ends and for at most retryFor; what still fails is
// ErrUnavailable to the caller (503 to a REST client).
//
// Which requests are safe to repeat: reads; lease grants and revocations
// (a grant whose answer was lost leaves a lease with nothing attached,
// which expires on its TTL; a revocation of a revoked lease is no error);
// and transactions that only read or that compare. A compared write that
// answered an error yet was applied fails its compare when repeated (each
// put compares the revision it replaces, or that its key is new), or only
// deletes again what is gone; the caller then reads again (ErrConflict), as
// after any lost race, and may find its own write there: an admin election
// or a SyncStateSet change so repeated is refused as if another had come
// first. Plain puts and deletes are not repeated. Over a network connection, clientv3
// repeats reads, grants and revocations itself and never a transaction;
// in process (the embedded etcd) nothing is repeated but by this file.
const (
	retryFor   = 5 * time.Second
	retryFirst = 25 * time.Millisecond // the first pause; each one doubles
	retryPause = 500 * time.Millisecond
)

// retry runs do until it succeeds, fails for good, or its failures have
// lasted retryFor or the caller's deadline.
func retry(ctx context.Context, do func(context.Context) error) error {
	until := time.Now().Add(retryFor)
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = d
	}
	for pause := retryFirst; ; pause = min(2*pause, retryPause) {
		err := do(ctx)
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().Add(pause).After(until) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// transient reports whether err is etcd briefly unable to answer, as
// opposed to a refusal, a bad request or the caller giving up.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return codeOf(err) == codes.Unavailable
}

// codeOf is the gRPC code of an etcd error: a gRPC status, or the
// rpctypes.EtcdError that clientv3 turns etcd's own errors into ("leader
// changed", "no leader", "request timed out"), which status.Code does
// not know.
func codeOf(err error) codes.Code {
	var etcdErr interface{ Code() codes.Code }
	if errors.As(err, &etcdErr) {
		return etcdErr.Code()
	}
	return status.Code(err)
}

// repeatableTxn reports whether a transaction is safe to repeat: it
// compares, or it only reads.
func repeatableTxn(r *pb.TxnRequest) bool {
	if len(r.Compare) > 0 {
		return true
	}
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if op.GetRequestRange() == nil {
				return false
			}
		}
	}
	return true
}

// retryInterceptor repeats the network client's safe transactions
// through transient failures (clientv3 repeats its reads, grants and
// revocations itself). A request on a closed store fails at once with
// errClosed: clientv3 would repeat it for seconds, taking the closed
// connection's "canceled" for a timeout of its own.
func retryInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if cc.GetState() == connectivity.Shutdown {
		return errClosed
	}
	invoke := func(ctx context.Context) error { return invoker(ctx, method, req, reply, cc, opts...) }
	if txn, ok := req.(*pb.TxnRequest); ok && repeatableTxn(txn) {
		return retry(ctx, invoke)
	}
	return invoke(ctx)
}

// callRetried is call, repeated through transient failures: the
// in-process client's safe requests.
func callRetried[T any](ctx context.Context, in instrument, service, method string, f func(context.Context) (T, error)) (T, error) {
	var resp T
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		resp, err = call(ctx, in, service, method, f)
		return err
	})
	return resp, err
}
