package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// cutLink is a TCP forwarder to a controller replica that can be cut, as a
// broken network path would be: cutting closes its connections, and
// while it is cut new ones are closed at once.
type cutLink struct {
	addr, target string
	ln           net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newLink(t *testing.T, target string) *cutLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &cutLink{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	l.wg.Add(1)
	go l.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		l.set(true)
		l.wg.Wait()
	})
	return l
}

func (l *cutLink) accept() {
	defer l.wg.Done()
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.forward(in)
		}()
	}
}

func (l *cutLink) forward(in net.Conn) {
	out, err := net.Dial("tcp", l.target)
	if err != nil {
		_ = in.Close()
		return
	}
	if !l.track(in, out) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
	l.mu.Lock()
	delete(l.conns, in)
	delete(l.conns, out)
	l.mu.Unlock()
}

// track records a forwarded pair, or closes it when the link is cut.
func (l *cutLink) track(in, out net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		_ = in.Close()
		_ = out.Close()
		return false
	}
	l.conns[in], l.conns[out] = true, true
	return true
}

// set cuts the link, closing its connections, or mends it.
func (l *cutLink) set(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			_ = c.Close()
		}
	}
}
