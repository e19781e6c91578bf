package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/ledgerless/ledgerless"
)

// poller is one broker's long-poll connection, spoken to with the least
// work an HTTP/1.1 client can honestly do. It stands in for brokers on
// other machines but shares this machine's CPUs with the controller, so
// it does without what net/http's client adds for generality (a reading
// goroutine per connection handing answers over to the caller, header
// maps, a connection pool): one goroutine writes each request as one
// buffer and reads the answer into a buffer it keeps, status line,
// headers and a body of Content-Length bytes, in full. Anything but a 200
// with a Content-Length body is an error.
type poller struct {
	conn net.Conn
	host string
	buf  []byte
}

// maxAnswer bounds an answer's header and body.
const maxAnswer = 1 << 20

// dialPoller connects to the controller at base (http://host:port). The
// connection stays open until ctx ends, which fails a request in flight.
func dialPoller(ctx context.Context, base string) (*poller, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	return &poller{conn: conn, host: u.Host, buf: make([]byte, 0, 4<<10)}, nil
}

// get sends GET path and reads the answer. It returns the answer's
// X-Ledgerless-Index and its body, which stays valid until the next get.
func (p *poller) get(path string) (index int64, body []byte, err error) {
	req := make([]byte, 0, 128)
	req = append(append(append(append(req, "GET "...), path...), " HTTP/1.1\r\nHost: "...), p.host...)
	if _, err := p.conn.Write(append(req, "\r\n\r\n"...)); err != nil {
		return 0, nil, err
	}
	// Read until the header ends.
	p.buf = p.buf[:0]
	end := -1
	for end < 0 {
		if err := p.fill(); err != nil {
			return 0, nil, fmt.Errorf("GET %s: reading the header: %w", path, err)
		}
		end = bytes.Index(p.buf, []byte("\r\n\r\n"))
	}
	status, header, _ := bytes.Cut(p.buf[:end], []byte("\r\n"))
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return 0, nil, fmt.Errorf("GET %s: %s", path, status)
	}
	length, index, err := parseHeader(header)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	// Read the rest of the body.
	start := end + 4
	for len(p.buf) < start+length {
		if err := p.fill(); err != nil {
			return 0, nil, fmt.Errorf("GET %s: reading the body: %w", path, err)
		}
	}
	if len(p.buf) > start+length {
		return 0, nil, fmt.Errorf("GET %s: %d bytes after the body", path, len(p.buf)-start-length)
	}
	return index, p.buf[start:], nil
}

// fill reads what the connection has into the buffer's free space,
// growing it when it is full.
func (p *poller) fill() error {
	if len(p.buf) == cap(p.buf) {
		if cap(p.buf) >= maxAnswer {
			return fmt.Errorf("answer larger than %d bytes", maxAnswer)
		}
		p.buf = append(p.buf, make([]byte, cap(p.buf))...)[:len(p.buf)]
	}
	n, err := p.conn.Read(p.buf[len(p.buf):cap(p.buf)])
	p.buf = p.buf[:len(p.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader reads an answer's header fields (without the status line):
// its Content-Length, which it must have, and its X-Ledgerless-Index,
// which a group's answer must have.
func parseHeader(header []byte) (length int, index int64, err error) {
	length, index = -1, -1
	for len(header) > 0 {
		var line []byte
		line, header, _ = bytes.Cut(header, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, 0, fmt.Errorf("malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
		case bytes.EqualFold(name, []byte("X-Ledgerless-Index")):
			index, err = strconv.ParseInt(string(value), 10, 64)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			err = fmt.Errorf("unexpected Transfer-Encoding %s", value)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	switch {
	case length < 0 || length > maxAnswer:
		return 0, 0, errors.New("no valid Content-Length")
	case index < 0:
		return 0, 0, errors.New("no X-Ledgerless-Index")
	}
	return length, index, nil
}

// waitForMaster is a broker's role-change loop: it reads g, then long-polls
// it from the index it read until an answer names broker id master, and
// returns when it has that answer. Every answer must be a 200 with a
// larger index than the one polled from.
func (p *poller) waitForMaster(g ledgerless.GroupKey, id int64) seenAt {
	index, _, err := p.get(groupPath(g))
	if err != nil {
		return seenAt{err: err}
	}
	master := fmt.Appendf(nil, `"masterBrokerId":%d,`, id)
	for {
		path := groupPath(g) + "?wait=1m&index=" + strconv.FormatInt(index, 10)
		got, body, err := p.get(path)
		if err == nil && got <= index {
			err = fmt.Errorf("GET %s: answered with index %d", path, got)
		}
		if err != nil {
			return seenAt{err: err}
		}
		if bytes.Contains(body, master) {
			return seenAt{at: time.Now()}
		}
		index = got
	}
}
