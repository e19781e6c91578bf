package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/tracing"
)

// Observer records what the remoting server serves.
type Observer interface {
	// RemotingRequest counts and times a request by its code's name and
	// its outcome (the response code's name; "oneway" for 904 handled).
	RemotingRequest(code, outcome string, d time.Duration)
	// AuthFailure counts a request refused for its credentials.
	AuthFailure(reason string)
}

type noObserver struct{}

func (noObserver) RemotingRequest(string, string, time.Duration) {}
func (noObserver) AuthFailure(string)                            {}

// Options configure a Server.
type Options struct {
	Service *service.Service
	// ReplicaID and Address name this replica in CONTROLLER_GET_METADATA_INFO:
	// Address (host:port) is where brokers reach it.
	ReplicaID string
	Address   string
	Logger    *slog.Logger
	// TracerProvider traces every request; nil: tracing off.
	TracerProvider trace.TracerProvider
	Observer       Observer
	// IdleTimeout closes a connection that sends nothing for that long
	// (default 120 s, RocketMQ's serverChannelMaxIdleTimeSeconds);
	// ReadTimeout bounds the reading of one frame once it began (default 10 s).
	IdleTimeout, ReadTimeout time.Duration
	// RequestTimeout bounds one request's work (default 2.5 s: a broker's
	// calls time out at 3 s and then close their connection).
	RequestTimeout time.Duration
	// MaxFrame is the frame limit (default 16 MiB).
	MaxFrame int
	// Auth, when set, verifies every request's ACL signature and its
	// caller's role: no request is served unsigned.
	Auth Authenticator
}

// Server serves RocketMQ's controller protocol on the connections it is
// given, translating every request to a service call.
type Server struct {
	opts   Options
	log    *slog.Logger
	tracer trace.Tracer // nil: tracing off
	obs    Observer
	codes  map[int]handler

	mu     sync.Mutex
	lns    []net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type handler func(ctx context.Context, req *Command, r *reply) *Command

// NewServer returns a Server.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 120 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 10 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 2500 * time.Millisecond
	}
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = MaxFrame
	}
	s := &Server{opts: opts, log: opts.Logger, tracer: tracing.Tracer(opts.TracerProvider), obs: opts.Observer,
		conns: map[net.Conn]struct{}{}}
	s.codes = s.handlers()
	return s
}

// Serve accepts connections on ln until it is closed or Shutdown is
// called; it returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("remoting accept: %w", err)
		}
		s.Go(conn)
	}
}

// Go serves conn in a goroutine the Server owns; Shutdown waits for it.
func (s *Server) Go(conn net.Conn) {
	if !s.track(conn) {
		_ = conn.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.untrack(conn)
		s.serveConn(conn)
	}()
}

// Shutdown stops the listeners given to Serve, closes every connection and waits, until ctx ends, for the
// requests being handled to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now()) // let the request in hand answer, then stop reading
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

// serveConn reads and answers the requests of one connection, in order.
// A frame that cannot be decoded closes this connection only.
func (s *Server) serveConn(conn net.Conn) {
	peer := conn.RemoteAddr().String()
	r := bufio.NewReaderSize(conn, 16<<10)
	cs := &connState{svc: s.opts.Service, brokers: map[ledgerless.GroupKey]map[int64]func(bool){}}
	// A connection that this server did not close on shutdown ended on
	// the broker's side: service decides whether the broker crashed.
	defer func() { cs.close(!s.isClosed()) }()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		if _, err := r.Peek(1); err != nil {
			s.closing(peer, err)
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
		frame, err := ReadFrame(r, s.opts.MaxFrame)
		if err != nil {
			s.closing(peer, err)
			return
		}
		req, err := Decode(frame)
		if err != nil {
			s.log.Warn("remoting: closing connection after an undecodable frame", "peer", peer, "err", err)
			return
		}
		if req.IsResponse() {
			continue // nothing is asked of our peers on this connection
		}
		resp := s.handle(req, peer, cs)
		if resp == nil {
			continue
		}
		out, err := Encode(resp)
		if err != nil {
			s.log.Error("remoting: encode answer", "code", req.Code, "err", err)
			out, _ = Encode(req.Response(SystemError, "answer could not be encoded"))
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.opts.ReadTimeout))
		if _, err := conn.Write(out); err != nil {
			s.closing(peer, err)
			return
		}
	}
}

func (s *Server) closing(peer string, err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !s.isClosed() {
			s.log.Debug("remoting: closing idle connection", "peer", peer)
		}
	case errors.Is(err, ErrFrame):
		s.log.Warn("remoting: closing connection after a bad frame", "peer", peer, "err", err)
	default:
		s.log.Debug("remoting: connection closed", "peer", peer, "err", err)
	}
}

// connState is what the server knows of one connection: the brokers
// that registered or heartbeat on it, whose connections service counts
// and holds as their crash signal (service.Hold).
type connState struct {
	svc     *service.Service
	brokers map[ledgerless.GroupKey]map[int64]func(lost bool)
}

// tie records that broker id of g speaks on this connection.
func (c *connState) tie(g ledgerless.GroupKey, id int64) {
	ids := c.brokers[g]
	if ids == nil {
		ids = map[int64]func(bool){}
		c.brokers[g] = ids
	}
	if _, seen := ids[id]; !seen {
		closed, release := c.svc.Connected(g, id), c.svc.Hold(g, id)
		ids[id] = func(lost bool) {
			closed()
			if lost {
				release(service.EndLost)
			} else {
				release(service.EndClosed)
			}
		}
	}
}

// close ends the ties; lost: the broker's side ended the connection.
func (c *connState) close(lost bool) {
	for _, ids := range c.brokers {
		for _, end := range ids {
			end(lost)
		}
	}
}

// reply collects what a request's span and metric say about it.
type reply struct {
	attrs []attribute.KeyValue
	conn  *connState
}

func (r *reply) add(kv ...attribute.KeyValue) { r.attrs = append(r.attrs, kv...) }

// handle answers one request: its response, or nil for a oneway one.
func (s *Server) handle(req *Command, peer string, cs *connState) (resp *Command) {
	start := time.Now()
	name := RequestName(req.Code)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
	defer cancel()
	ctx, span := tracing.Start(ctx, s.tracer, "rocketmq "+name, trace.WithSpanKind(trace.SpanKindServer))
	rep := &reply{conn: cs}
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "panic serving remoting request", "code", req.Code, "panic", p)
			resp = req.Response(SystemError, "internal error")
		}
		outcome := "oneway"
		var err error
		if resp != nil {
			outcome = ResponseName(resp.Code)
			if resp.Code != Success {
				err = errors.New(resp.Remark)
			}
		}
		if req.IsOneway() {
			resp = nil
		}
		s.obs.RemotingRequest(name, outcome, time.Since(start))
		if span.IsRecording() {
			span.SetAttributes(append(rep.attrs, attribute.String("rpc.system", "rocketmq"),
				attribute.String("rpc.method", name), attribute.Int("rocketmq.request_code", req.Code),
				attribute.String("network.peer.address", peer), attribute.String("rocketmq.response", outcome))...)
		}
		tracing.End(span, outcome, err)
	}()
	if s.opts.Auth != nil {
		if err := s.authorize(ctx, req); err != nil {
			s.obs.AuthFailure(authReason(err))
			s.log.WarnContext(ctx, "remoting request refused", "code", req.Code, "peer", peer, "err", err)
			return req.Response(NoPermission, err.Error())
		}
	}
	h, ok := s.codes[req.Code]
	if !ok {
		return req.Response(NotSupported, fmt.Sprintf(" request type %d not supported", req.Code))
	}
	return h(ctx, req, rep)
}
