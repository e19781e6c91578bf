package store

import (
	"context"
	"errors"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/ledgerless/ledgerless"
)

// TestTranslateUnavailability: etcd's own transient errors, as clientv3
// returns them (rpctypes.EtcdError, which status.Code does not know), and
// a closed store are ErrUnavailable; a caller giving up is not.
func TestTranslateUnavailability(t *testing.T) {
	for _, err := range []error{rpctypes.ErrLeaderChanged, rpctypes.ErrNoLeader, rpctypes.ErrTimeout,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrGRPCLeaderChanged, rpctypes.ErrGRPCNoLeader} {
		if got := translate("op", err); !errors.Is(got, ledgerless.ErrUnavailable) {
			t.Errorf("translate(%v) = %v, not ErrUnavailable", err, got)
		}
	}
	if !errors.Is(errClosed, ledgerless.ErrUnavailable) {
		t.Errorf("store closed is not ErrUnavailable: %v", errClosed)
	}
	if got := translate("op", context.Canceled); errors.Is(got, ledgerless.ErrUnavailable) || !errors.Is(got, context.Canceled) {
		t.Errorf("translate(canceled) = %v", got)
	}
	if got := translate("op", rpctypes.ErrCompacted); errors.Is(got, ledgerless.ErrUnavailable) {
		t.Errorf("translate(compacted) = %v, a transient error", got)
	}
}

// TestRetryThroughALeaderChange: a safe request is repeated through
// transient failures until it succeeds; other failures, a closed store
// and the caller's end are not repeated.
func TestRetryThroughALeaderChange(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := retry(ctx, func(context.Context) error {
		if calls++; calls < 3 {
			return rpctypes.ErrLeaderChanged
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retry through two leader changes: %v after %d calls", err, calls)
	}
	for _, fail := range []error{rpctypes.ErrCompacted, errClosed, translate("op", context.Canceled), ErrConflict} {
		calls = 0
		if err := retry(ctx, func(context.Context) error { calls++; return fail }); !errors.Is(err, fail) || calls != 1 {
			t.Errorf("retry of %v: %v after %d calls, want one call", fail, err, calls)
		}
	}
	// Within the caller's deadline: the last failure is answered before it.
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = retry(dctx, func(context.Context) error { return translate("op", rpctypes.ErrNoLeader) })
	if !errors.Is(err, ledgerless.ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("retry until the deadline: %v after %s", err, time.Since(start))
	}
}

func TestRepeatableTxn(t *testing.T) {
	read := &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("k")}}}
	put := &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("k")}}}
	cmp := &pb.Compare{Key: []byte("k"), Target: pb.Compare_MOD}
	for _, tc := range []struct {
		txn  *pb.TxnRequest
		want bool
	}{
		{&pb.TxnRequest{Success: []*pb.RequestOp{read, read}}, true},
		{&pb.TxnRequest{Compare: []*pb.Compare{cmp}, Success: []*pb.RequestOp{put}}, true},
		{&pb.TxnRequest{Success: []*pb.RequestOp{read, put}}, false},
		{&pb.TxnRequest{Failure: []*pb.RequestOp{put}}, false},
	} {
		if got := repeatableTxn(tc.txn); got != tc.want {
			t.Errorf("repeatableTxn(%v) = %v, want %v", tc.txn, got, tc.want)
		}
	}
}
