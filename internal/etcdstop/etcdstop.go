// Package etcdstop makes an etcd server stop promptly while clients
// are still connected to it.
//
// etcd's embed.Etcd.Close stops its gRPC server gracefully and waits for
// every RPC to end, up to the server's request timeout (5 s plus two
// election timeouts: 7 s by default). A client's watch and lease
// keep-alive streams never end on their own, so any connected client (a
// controller replica, a second replica on an embedded etcd) made every
// stop take the whole timeout; and a member that has lost its quorum
// holds every read and write until that timeout too. The interceptors
// here end both when Stop is called: etcd's handlers return as soon as a
// request's context is done, its clients see the request fail as they
// would see the member go away (and retry on another), and the graceful
// stop has nothing left to wait for.
package etcdstop

import (
	"context"
	"sync"

	"google.golang.org/grpc"
)

// Streams ends the requests and streams of a gRPC server when Stop is
// called.
type Streams struct {
	ctx  context.Context
	stop context.CancelFunc
	once sync.Once
}

// New returns a Streams whose ServerOptions end every request and
// stream, open or opened later, once Stop is called.
func New() *Streams {
	ctx, cancel := context.WithCancel(context.Background())
	return &Streams{ctx: ctx, stop: cancel}
}

// ServerOptions are the interceptors to give the server (etcd's
// embed.Config.GRPCAdditionalServerOptions).
func (s *Streams) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.unary), grpc.ChainStreamInterceptor(s.stream)}
}

// Stop ends the requests and streams; call it right before the
// server's Close. It is safe to call more than once and returns at once.
func (s *Streams) Stop() { s.once.Do(s.stop) }

func (s *Streams) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	return handler(ctx, req)
}

func (s *Streams) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	return handler(srv, stream{ServerStream: ss, ctx: ctx})
}

// stream is ss with the context that Stop cancels.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s stream) Context() context.Context { return s.ctx }
