package brokersim

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// sniffTimeout bounds the wait for a connection's first byte.
const sniffTimeout = 10 * time.Second

// sharedListener shares the broker's listen port between its HTTP API and
// RocketMQ's remoting protocol, as a stock broker's listen port takes the
// controller's NOTIFY: a remoting frame begins with its length, whose
// first byte is 0 under the 16 MiB frame limit; an HTTP request begins
// with a method name. Remoting connections go to remoting; the others
// are Accept's.
type sharedListener struct {
	net.Listener
	remoting func(net.Conn)

	http      chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newSharedListener(ln net.Listener, remoting func(net.Conn)) *sharedListener {
	return &sharedListener{Listener: ln, remoting: remoting, http: make(chan net.Conn), done: make(chan struct{})}
}

// Run accepts connections until Close, then waits for the ones it is
// routing.
func (l *sharedListener) Run(ctx context.Context) error {
	defer l.wg.Wait()
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return nil
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.route(conn)
		}()
	}
}

func (l *sharedListener) route(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(sniffTimeout))
	r := bufio.NewReader(conn)
	first, err := r.Peek(1)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		_ = conn.Close()
		return
	}
	sc := &sniffedConn{Conn: conn, r: r}
	if first[0] == 0 {
		l.remoting(sc)
		return
	}
	select {
	case l.http <- sc:
	case <-l.done:
		_ = conn.Close()
	}
}

// Accept returns the next HTTP connection.
func (l *sharedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.http:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *sharedListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// sniffedConn is a connection whose first byte was read to route it.
type sniffedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *sniffedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
