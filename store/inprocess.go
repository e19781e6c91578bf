package store

import (
	"context"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc"
	"go.etcd.io/etcd/server/v3/proxy/grpcproxy/adapter"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// inProcess returns an etcd client that calls srv's API directly, as
// etcd's v3client does, with each request timed for obs and, within a
// sampled trace, made a client span named as gRPC instrumentation names it
// (etcdserverpb.KV/Txn), as Open's gRPC connection does, its outcome
// reported to l, and the requests that are safe to repeat repeated
// through transient failures (retry.go). It also returns the lease API,
// for the keep-alive streams.
func inProcess(srv *etcdserver.EtcdServer, tracer trace.Tracer, obs RequestObserver, l *link) (*clientv3.Client, pb.LeaseClient) {
	in := instrument{tracer: tracer, obs: obs, link: l}
	c := clientv3.NewCtxClient(context.Background(), clientv3.WithZapLogger(zap.NewNop()))
	lease := adapter.LeaseServerToLeaseClient(v3rpc.NewQuotaLeaseServer(srv))
	c.KV = clientv3.NewKVFromKVClient(kvClient{adapter.KvServerToKvClient(v3rpc.NewQuotaKVServer(srv)), in}, c)
	c.Lease = clientv3.NewLeaseFromLeaseClient(leaseClient{lease, in}, c, time.Second)
	c.Watcher = clientv3.NewWatchFromWatchClient(adapter.WatchServerToWatchClient(v3rpc.NewWatchServer(srv)), c)
	c.Maintenance = clientv3.NewMaintenanceFromMaintenanceClient(
		maintenanceClient{adapter.MaintenanceServerToMaintenanceClient(v3rpc.NewMaintenanceServer(srv, nil)), in}, c)
	c.Cluster = clientv3.NewClusterFromClusterClient(clusterClient{adapter.ClusterServerToClusterClient(v3rpc.NewClusterServer(srv)), in}, c)
	return c, lease
}

type instrument struct {
	tracer trace.Tracer
	obs    RequestObserver
	link   *link
}

// call runs one request of service's method, timed and maybe traced.
func call[T any](ctx context.Context, in instrument, service, method string, f func(context.Context) (T, error)) (T, error) {
	var span trace.Span
	if in.tracer != nil && trace.SpanContextFromContext(ctx).IsSampled() {
		ctx, span = in.tracer.Start(ctx, "etcdserverpb."+service+"/"+method, trace.WithSpanKind(trace.SpanKindClient))
		defer span.End()
	}
	start := time.Now()
	resp, err := f(ctx)
	if in.obs != nil {
		in.obs.EtcdRequest(method, time.Since(start))
	}
	in.link.observe("/etcdserverpb."+service+"/"+method, err)
	if span != nil && err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return resp, err
}

type kvClient struct {
	pb.KVClient
	in instrument
}

func (c kvClient) Range(ctx context.Context, r *pb.RangeRequest, opts ...grpc.CallOption) (*pb.RangeResponse, error) {
	return callRetried(ctx, c.in, "KV", "Range", func(ctx context.Context) (*pb.RangeResponse, error) { return c.KVClient.Range(ctx, r, opts...) })
}

func (c kvClient) Put(ctx context.Context, r *pb.PutRequest, opts ...grpc.CallOption) (*pb.PutResponse, error) {
	return call(ctx, c.in, "KV", "Put", func(ctx context.Context) (*pb.PutResponse, error) { return c.KVClient.Put(ctx, r, opts...) })
}

func (c kvClient) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest, opts ...grpc.CallOption) (*pb.DeleteRangeResponse, error) {
	return call(ctx, c.in, "KV", "DeleteRange", func(ctx context.Context) (*pb.DeleteRangeResponse, error) {
		return c.KVClient.DeleteRange(ctx, r, opts...)
	})
}

func (c kvClient) Txn(ctx context.Context, r *pb.TxnRequest, opts ...grpc.CallOption) (*pb.TxnResponse, error) {
	txn := func(ctx context.Context) (*pb.TxnResponse, error) { return c.KVClient.Txn(ctx, r, opts...) }
	if !repeatableTxn(r) {
		return call(ctx, c.in, "KV", "Txn", txn)
	}
	return callRetried(ctx, c.in, "KV", "Txn", txn)
}

type leaseClient struct {
	pb.LeaseClient
	in instrument
}

func (c leaseClient) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest, opts ...grpc.CallOption) (*pb.LeaseGrantResponse, error) {
	return callRetried(ctx, c.in, "Lease", "LeaseGrant", func(ctx context.Context) (*pb.LeaseGrantResponse, error) {
		return c.LeaseClient.LeaseGrant(ctx, r, opts...)
	})
}

func (c leaseClient) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest, opts ...grpc.CallOption) (*pb.LeaseRevokeResponse, error) {
	return callRetried(ctx, c.in, "Lease", "LeaseRevoke", func(ctx context.Context) (*pb.LeaseRevokeResponse, error) {
		return c.LeaseClient.LeaseRevoke(ctx, r, opts...)
	})
}

type maintenanceClient struct {
	pb.MaintenanceClient
	in instrument
}

func (c maintenanceClient) Status(ctx context.Context, r *pb.StatusRequest, opts ...grpc.CallOption) (*pb.StatusResponse, error) {
	return callRetried(ctx, c.in, "Maintenance", "Status", func(ctx context.Context) (*pb.StatusResponse, error) {
		return c.MaintenanceClient.Status(ctx, r, opts...)
	})
}

type clusterClient struct {
	pb.ClusterClient
	in instrument
}

func (c clusterClient) MemberList(ctx context.Context, r *pb.MemberListRequest, opts ...grpc.CallOption) (*pb.MemberListResponse, error) {
	return callRetried(ctx, c.in, "Cluster", "MemberList", func(ctx context.Context) (*pb.MemberListResponse, error) {
		return c.ClusterClient.MemberList(ctx, r, opts...)
	})
}
