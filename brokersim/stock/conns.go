package stock

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ledgerless/ledgerless/remoting"
)

// errShutdown refuses connections once the broker closed them all.
var errShutdown = errors.New("the broker is shutting down")

// conns are the broker's connections to controllers, one per address,
// as NettyRemotingClient keeps its channels: dialled on first use, and
// again after one broke.
type conns struct {
	mu     sync.Mutex
	m      map[string]*remoting.Client
	closed bool
}

func newConns() *conns { return &conns{m: map[string]*remoting.Client{}} }

// get returns a working connection to addr, dialling one within the
// connect timeout if there is none.
func (c *conns) get(ctx context.Context, addr string) (*remoting.Client, error) {
	c.mu.Lock()
	cl := c.m[addr]
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("connection to %s: %w", addr, errShutdown)
	}
	if cl != nil && cl.Err() == nil {
		return cl, nil
	}
	dctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	fresh, err := remoting.Dial(dctx, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = fresh.Close()
		return nil, fmt.Errorf("connection to %s: %w", addr, errShutdown)
	}
	if old := c.m[addr]; old != nil && old != cl && old.Err() == nil {
		_ = fresh.Close() // another caller dialled meanwhile
		return old, nil
	}
	if cl != nil {
		_ = cl.Close()
	}
	c.m[addr] = fresh
	return fresh, nil
}

// closeAll closes every connection; later gets fail.
func (c *conns) closeAll() {
	c.mu.Lock()
	c.closed = true
	all := c.m
	c.m = map[string]*remoting.Client{}
	c.mu.Unlock()
	for _, cl := range all {
		_ = cl.Close()
	}
}
