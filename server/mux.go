package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// portMux shares one listener between the REST API and RocketMQ's remoting
// protocol. A remoting frame begins with its length, whose first byte is
// 0 under the 16 MiB frame limit; an HTTP request begins with a method
// name. With TLS, the handshake comes first: a client that negotiated a
// protocol by ALPN (h2, http/1.1) is HTTP at once, any other is told
// apart by its first decrypted byte.
type portMux struct {
	ln       net.Listener
	tls      *tls.Config // nil: plain TCP
	remoting func(net.Conn)
	log      *slog.Logger
	sniff    time.Duration // the longest wait for a connection's first byte

	http      chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newPortMux(ln net.Listener, tlsConfig *tls.Config, remoting func(net.Conn), log *slog.Logger, sniff time.Duration) *portMux {
	return &portMux{ln: ln, tls: tlsConfig, remoting: remoting, log: log, sniff: sniff,
		http: make(chan net.Conn), done: make(chan struct{})}
}

// Run accepts connections until the listener is closed.
func (m *portMux) Run() error {
	defer m.wg.Wait()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(conn)
		}()
	}
}

func (m *portMux) route(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(m.sniff))
	var inner net.Conn = conn
	var state *tls.ConnectionState
	if m.tls != nil {
		tc := tls.Server(conn, m.tls)
		if err := tc.Handshake(); err != nil {
			m.log.Debug("TLS handshake", "peer", conn.RemoteAddr().String(), "err", err)
			_ = conn.Close()
			return
		}
		st := tc.ConnectionState()
		if st.NegotiatedProtocol != "" {
			_ = conn.SetReadDeadline(time.Time{})
			m.toHTTP(tc)
			return
		}
		inner, state = tc, &st
	}
	r := bufio.NewReader(inner)
	first, err := r.Peek(1)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		_ = conn.Close()
		return
	}
	sc := &sniffedConn{Conn: inner, r: r, tls: state}
	if first[0] == 0 && m.remoting != nil {
		m.remoting(sc)
		return
	}
	m.toHTTP(sc)
}

func (m *portMux) toHTTP(conn net.Conn) {
	select {
	case m.http <- conn:
	case <-m.done:
		_ = conn.Close()
	}
}

// Accept hands the HTTP connections to the http.Server.
func (m *portMux) Accept() (net.Conn, error) {
	select {
	case c := <-m.http:
		return c, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (m *portMux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	return err
}

func (m *portMux) Addr() net.Addr { return m.ln.Addr() }

// sniffedConn is a connection whose first bytes were read to route it,
// and, under TLS, the state of its handshake.
type sniffedConn struct {
	net.Conn
	r   *bufio.Reader
	tls *tls.ConnectionState
}

func (c *sniffedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type tlsStateKey struct{}

// connContext keeps a sniffed TLS connection's state for its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(*sniffedConn); ok && sc.tls != nil {
		return context.WithValue(ctx, tlsStateKey{}, sc.tls)
	}
	return ctx
}

// withTLSState gives a request on a sniffed TLS connection its TLS
// state, as net/http gives it to requests on the connections it
// handshakes itself (client certificates authenticate with it).
func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r.TLS = st
			}
		}
		h.ServeHTTP(w, r)
	})
}
