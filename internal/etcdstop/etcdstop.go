// Package etcdstop makes an etcd server stop promptly while clients
// still hold streams open on it.
//
// etcd's embed.Etcd.Close stops its gRPC server gracefully and waits for
// every RPC to end, up to the server's request timeout (5 s plus two
// election timeouts: 7 s by default). A client's watch and lease
// keep-alive streams never end on their own, so any connected client (a
// controller replica, a second replica on an embedded etcd) made every
// stop take the whole timeout. The interceptor here ends the streams
// when Stop is called: etcd's handlers return as soon as a stream's
// context is done, its clients see the stream end as they would see the
// member go away, and the graceful stop then has only unary requests to
// wait for.
package etcdstop

import (
	"context"
	"sync"

	"google.golang.org/grpc"
)

// Streams ends the streams of a gRPC server when Stop is called.
type Streams struct {
	ctx  context.Context
	stop context.CancelFunc
	once sync.Once
}

// New returns a Streams whose ServerOption ends every stream, open or
// opened later, once Stop is called.
func New() *Streams {
	ctx, cancel := context.WithCancel(context.Background())
	return &Streams{ctx: ctx, stop: cancel}
}

// ServerOption is the stream interceptor to give the server (etcd's
// embed.Config.GRPCAdditionalServerOptions).
func (s *Streams) ServerOption() grpc.ServerOption {
	return grpc.ChainStreamInterceptor(s.intercept)
}

// Stop ends the streams; call it right before the server's Close. It
// is safe to call more than once and returns at once.
func (s *Streams) Stop() { s.once.Do(s.stop) }

func (s *Streams) intercept(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
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
