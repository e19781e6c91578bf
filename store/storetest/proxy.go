package storetest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy owned by a test, between etcd clients and an etcd
// endpoint, that injects network faults: it can hold the bytes of one or
// both directions while keeping every connection open, as a silent
// partition does, and release them when the link heals.
type Proxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	cond  *sync.Cond
	hold  [2]bool // by direction: toServer, toClient
	conns []net.Conn
	wg    sync.WaitGroup
}

// Directions of a Proxy's traffic.
const (
	ToServer = 0 // client → etcd
	ToClient = 1 // etcd → client
)

// NewProxy listens on a free 127.0.0.1 port and forwards each connection
// to upstream (host:port); it is closed when the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, upstream: upstream}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Endpoint is the proxy's client URL.
func (p *Proxy) Endpoint() string { return "http://" + p.ln.Addr().String() }

// Hold stops forwarding the bytes of direction dir (ToServer, ToClient):
// they wait in the proxy, connections stay open, nothing is refused.
func (p *Proxy) Hold(dir int) {
	p.mu.Lock()
	p.hold[dir] = true
	p.mu.Unlock()
}

// Silence holds both directions: a partition that neither side can see.
func (p *Proxy) Silence() {
	p.Hold(ToServer)
	p.Hold(ToClient)
}

// Heal forwards everything again, starting with the bytes held.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.hold = [2]bool{}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Close stops listening, drops every connection and waits for its
// goroutines.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.hold = [2]bool{}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(up, c, ToServer)
		go p.pump(c, up, ToClient)
	}
}

// pump copies from src to dst, waiting before each write while dir is held.
func (p *Proxy) pump(dst, src net.Conn, dir int) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.hold[dir] {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			return
		}
	}
}
