package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits of the client.
const (
	maxAnswerBytes = 64 << 20        // a larger answer is not the controller's
	dialTimeout    = 3 * time.Second // a silent controller gives the next one a turn
)

// indexHeader carries a group's long-poll index.
const indexHeader = "X-Ledgerless-Index"

// Client calls the REST API of a ledgerless controller. It tries the
// controller's replicas in turn: the next one when a replica cannot be
// reached or answers 5xx. A POST that may have reached a replica is not
// repeated on another one, since it may have taken effect.
type Client struct {
	bases []string
	http  *http.Client
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Controllers are the replicas' base URLs, such as
	// http://127.0.0.1:9878, tried in this order.
	Controllers []string
	// HTTP sends the requests; default: a client of its own whose
	// connections time out after 3 s. Requests are bounded by their ctx.
	HTTP *http.Client
}

// NewClient returns a client of opts.Controllers, which must be http or
// https URLs.
func NewClient(opts ClientOptions) (*Client, error) {
	if len(opts.Controllers) == 0 {
		return nil, errors.New("no controller URL given")
	}
	c := &Client{http: opts.HTTP}
	for _, base := range opts.Controllers {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("controller URL %q: want http://host:port", base)
		}
		c.bases = append(c.bases, strings.TrimSuffix(base, "/"))
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// answer is a successful (2xx) response.
type answer struct {
	header http.Header
	body   []byte
}

// index is the answer's long-poll index, from its X-Ledgerless-Index.
func (a *answer) index() (int64, error) {
	n, err := strconv.ParseInt(a.header.Get(indexHeader), 10, 64)
	if err != nil || n < 0 {
		return 0, unavailable("answer without a valid %s header", indexHeader)
	}
	return n, nil
}

// do sends method path (with query) and body, JSON-encoded unless nil, to
// each controller in turn until one answers below 500. A 4xx answer is a
// Refused *Error holding the controller's *Problem; no usable answer is an
// Unavailable *Error.
func (c *Client) do(ctx context.Context, method, path string, body any) (*answer, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
	}
	var failures []error
	var lines []string
	for _, base := range c.bases {
		a, next, err := c.attempt(ctx, method, base+path, payload)
		if !next {
			return a, err
		}
		failures = append(failures, err)
		lines = append(lines, describe(base, err))
	}
	if len(failures) == 1 {
		return nil, failures[0]
	}
	return nil, unavailable("no controller answered:\n  %s", strings.Join(lines, "\n  "))
}

// describe names the controller an error came from, unless it does.
func describe(base string, err error) string {
	var u *url.Error
	if errors.As(err, &u) {
		return err.Error()
	}
	return base + ": " + err.Error()
}

// attempt sends one request. next says that it failed in a way that lets
// the next controller be tried.
func (c *Client) attempt(ctx context.Context, method, target string, payload []byte) (_ *answer, next bool, _ error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
	if err != nil {
		return nil, false, &Error{Class: Usage, Err: fmt.Errorf("request %s %s: %w", method, target, err)}
	}
	if payload != nil {
		req.Header.Set("Content-Type", contentType(method))
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, unavailable("%s %s: %w", method, target, ctx.Err())
		}
		return nil, method != http.MethodPost || isDialError(err), unavailable("%w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, method != http.MethodPost, unavailable("%s %s: read answer: %w", method, target, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, method != http.MethodPost, unavailable("%w", problemOf(resp, body))
	case resp.StatusCode >= 400:
		return nil, false, &Error{Class: Refused, Err: problemOf(resp, body)}
	case resp.StatusCode >= 300:
		return nil, false, unavailable("%s %s: unexpected redirect %s", method, target, resp.Status)
	}
	return &answer{header: resp.Header, body: body}, false, nil
}

// contentType is the request body's media type: PATCH is a JSON merge patch.
func contentType(method string) string {
	if method == http.MethodPatch {
		return "application/merge-patch+json"
	}
	return "application/json"
}

// isDialError says that a request never reached a server, so that even a
// POST may be sent to another one.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// problemOf reads the problem detail of an error answer; an answer that is
// not one (a proxy's page, say) becomes a problem naming the HTTP status.
func problemOf(resp *http.Response, body []byte) *Problem {
	var p Problem
	media, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (media == "application/problem+json" || media == "application/json") &&
		json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Code != "") {
		if p.Status == 0 {
			p.Status = resp.StatusCode
		}
		return &p
	}
	detail := strings.TrimSpace(string(body))
	if len(detail) > 200 {
		detail = detail[:200] + "..."
	}
	return &Problem{Title: resp.Status, Status: resp.StatusCode, Detail: detail}
}

// get reads path into out; it returns the answer for its raw body and
// headers.
func (c *Client) get(ctx context.Context, path string, out any) (*answer, error) {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// call sends a request and decodes a JSON answer into out unless out is nil.
func (c *Client) call(ctx context.Context, method, path string, body, out any) (*answer, error) {
	a, err := c.do(ctx, method, path, body)
	if err != nil || out == nil {
		return a, err
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return nil, unavailable("%s %s: answer is not the expected JSON: %w", method, path, err)
	}
	return a, nil
}

// groupPath is the API path of a group, with every name escaped.
func groupPath(cluster, group string, rest ...string) string {
	p := "/v1/clusters/" + url.PathEscape(cluster) + "/groups/" + url.PathEscape(group)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}
