package remoting

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one connection to a RocketMQ remoting peer: a controller (as
// brokers and mqadmin use it) or a broker (for NOTIFY). It sends requests
// and matches answers by opaque; it is safe for concurrent use. A Client
// whose connection broke stays broken: Err says why; dial a new one.
type Client struct {
	conn      net.Conn
	Serialize SerializeType // headers of the requests it sends; JSON by default
	// Sign, when set, adds credentials to every request before it is sent.
	Sign func(*Command)

	opaque  atomic.Int32
	writeMu sync.Mutex

	mu      sync.Mutex
	pending map[int32]chan *Command
	err     error
	done    chan struct{}
}

// Dial connects to addr.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewClient(conn), nil
}

// NewClient runs a Client over conn; Close closes it.
func NewClient(conn net.Conn) *Client {
	c := &Client{conn: conn, pending: map[int32]chan *Command{}, done: make(chan struct{})}
	go c.read()
	return c
}

// Close closes the connection; calls waiting for answers return.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// Err is why the connection broke, nil while it works.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection broke.
func (c *Client) Done() <-chan struct{} { return c.done }

func (c *Client) read() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	var err error
	for {
		var frame []byte
		if frame, err = ReadFrame(r, MaxFrame); err != nil {
			break
		}
		var cmd *Command
		if cmd, err = Decode(frame); err != nil {
			break
		}
		if !cmd.IsResponse() {
			continue // requests from the peer are not served here
		}
		c.mu.Lock()
		ch := c.pending[cmd.Opaque]
		delete(c.pending, cmd.Opaque)
		c.mu.Unlock()
		if ch != nil {
			ch <- cmd
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("connection to %s: %w", c.conn.RemoteAddr(), err)
	for _, ch := range c.pending {
		close(ch)
	}
	c.pending = nil
	c.mu.Unlock()
	_ = c.conn.Close()
}

func (c *Client) send(ctx context.Context, req *Command) error {
	req.Serialize = c.Serialize
	if c.Sign != nil {
		c.Sign(req)
	}
	frame, err := Encode(req)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(3 * time.Second)
	}
	_ = c.conn.SetWriteDeadline(deadline)
	_, err = c.conn.Write(frame)
	return err
}

// Invoke sends req and waits for its answer until ctx ends. It sets req's
// opaque and clears its flags.
func (c *Client) Invoke(ctx context.Context, req *Command) (*Command, error) {
	req.Opaque, req.Flag = c.opaque.Add(1), 0
	ch := make(chan *Command, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return nil, c.Err()
	}
	c.pending[req.Opaque] = ch
	c.mu.Unlock()
	if err := c.send(ctx, req); err != nil {
		c.forget(req.Opaque)
		return nil, err
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		return resp, nil
	case <-ctx.Done():
		c.forget(req.Opaque)
		return nil, ctx.Err()
	}
}

// Oneway sends req with the oneway flag; nothing answers it.
func (c *Client) Oneway(ctx context.Context, req *Command) error {
	req.Opaque, req.Flag = c.opaque.Add(1), FlagOneway
	if err := c.Err(); err != nil {
		return err
	}
	return c.send(ctx, req)
}

func (c *Client) forget(opaque int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != nil {
		delete(c.pending, opaque)
	}
}

// Request returns a request of code with the given extFields, as a Java
// peer builds it.
func Request(code int, ext Fields, body []byte) *Command {
	return &Command{Code: code, Language: "JAVA", Ext: ext, Body: body}
}
