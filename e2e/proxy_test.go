package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy is a TCP relay between brokers and one controller replica (or a
// replica and etcd), on which a test breaks the link: cut closes every
// connection (both sides see them close), retarget sends new connections
// to another replica, freeze stops every byte both ways with every
// connection left open, as a silent network failure does, until thaw.
type proxy struct {
	ln net.Listener

	mu     sync.Mutex
	target string
	frozen bool
	conns  map[net.Conn]struct{}
	thawed chan struct{} // closed when a freeze ends
}

// newProxy relays 127.0.0.1:<free port> to target (host:port) until the
// test ends.
func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, thawed: make(chan struct{})}
	close(p.thawed)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.accept(&wg) }()
	t.Cleanup(func() { _ = ln.Close(); p.cut(); wg.Wait() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept(wg *sync.WaitGroup) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.gate() // a frozen link does not even connect onwards
			u, err := net.DialTimeout("tcp", target, 3*time.Second)
			if err != nil {
				p.drop(c)
				return
			}
			p.mu.Lock()
			p.conns[u] = struct{}{}
			p.mu.Unlock()
			done := make(chan struct{}, 2)
			go func() { p.relay(u, c); done <- struct{}{} }()
			go func() { p.relay(c, u); done <- struct{}{} }()
			<-done
			p.drop(c)
			p.drop(u)
			<-done
		}()
	}
}

// relay copies src to dst, holding every chunk while the link is frozen.
func (p *proxy) relay(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// gate waits while the link is frozen.
func (p *proxy) gate() {
	p.mu.Lock()
	thawed := p.thawed
	p.mu.Unlock()
	<-thawed
}

func (p *proxy) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// cut closes every relayed connection, and ends a freeze.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// retarget relays the connections made from now on to target.
func (p *proxy) retarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// targetNow is where new connections go.
func (p *proxy) targetNow() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// thaw ends a freeze with every connection as it was: the bytes held
// flow on, as after a silent network failure heals.
func (p *proxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// freeze stops the link silently until thaw or cut.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thawed = make(chan struct{})
	}
}
