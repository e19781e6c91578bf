// Package client is the Go client of a ledgerless controller's REST API v1.
//
// Broker is what a broker (or a sidecar next to it) embeds: it registers
// with an identity persisted in a file, heartbeats, follows its group by
// long polls, reports role changes in masterEpoch order, changes the
// SyncStateSet and resigns on shutdown. Transport is the REST transport
// underneath, which the operator CLI shares: it tries the controller's
// replicas in turn, authenticates with a bearer token, TLS or both,
// propagates trace context, and decodes problem details into *Problem
// errors that match the ledgerless sentinel errors. A Broker traces its
// calls as client spans when given a TracerProvider.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/tracing"
)

// Limits of the transport.
const (
	maxAnswerBytes = 64 << 20        // a larger answer is not the controller's
	dialTimeout    = 3 * time.Second // a silent controller gives the next one a turn
)

// ErrControllerURL is the error of a controller URL that is not an http
// or https URL.
var ErrControllerURL = errors.New("controller URL")

// IndexHeader carries a group's long-poll index.
const IndexHeader = "X-Ledgerless-Index"

// Transport sends requests to the REST API of a ledgerless controller. It
// tries the controller's replicas in turn, starting with the one that
// answered last: the next one when a replica cannot be reached or answers
// 5xx. A POST that may have reached a replica is not repeated on another
// one, since it may have taken effect. A Transport is safe for concurrent
// use.
type Transport struct {
	bases      []string
	http       *http.Client
	ownHTTP    bool // http is the transport's own
	tokenFile  string
	token      atomic.Pointer[string] // nil: no token
	propagator propagation.TextMapPropagator
	preferred  atomic.Int64 // index in bases of the replica tried first
	// answerTimeout bounds an attempt that may go to the next replica.
	answerTimeout time.Duration
}

// TransportOptions configure a Transport.
type TransportOptions struct {
	// Controllers are the replicas' base URLs, such as
	// http://127.0.0.1:9878 or https://ctl-1:9878, tried in this order at
	// first.
	Controllers []string
	// HTTP sends the requests. Default: a client of the transport's own,
	// whose connections time out after 3 s and which TLS configures.
	// Requests are bounded by their ctx.
	HTTP *http.Client
	// TLS configures the transport's own client for https controllers
	// whose certificates the system does not trust, or that ask for a
	// client certificate. Not with HTTP: configure that client instead.
	TLS TLS
	// Token, when not empty, is sent as "Authorization: Bearer <token>"
	// to a controller that authenticates its callers.
	Token string
	// TokenFile holds the token instead (its first line). It is read
	// when the transport is made, and again when a controller answers
	// 401: a request refused with an old token is sent once more with a
	// new one, so that a rotated token takes effect without a restart.
	TokenFile string
	// AnswerTimeout is how long one replica has to answer a request that
	// may be sent to the next one (any but a POST) before the next one is
	// tried: a replica that accepts connections and never answers then
	// costs that long, not the caller's whole deadline. A long poll's
	// attempt has its wait on top. 0: an attempt may take the caller's
	// whole deadline.
	AnswerTimeout time.Duration
}

// NewTransport returns a transport to opts.Controllers, which must be http
// or https URLs.
func NewTransport(opts TransportOptions) (*Transport, error) {
	if len(opts.Controllers) == 0 {
		return nil, errors.New("no controller URL given")
	}
	t := &Transport{http: opts.HTTP, tokenFile: opts.TokenFile, propagator: tracing.Propagator(),
		answerTimeout: opts.AnswerTimeout}
	for _, base := range opts.Controllers {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w %q: want http://host:port or https://host:port", ErrControllerURL, base)
		}
		t.bases = append(t.bases, strings.TrimSuffix(base, "/"))
	}
	switch {
	case opts.Token != "" && opts.TokenFile != "":
		return nil, errors.New("give a token or a token file, not both")
	case opts.TokenFile != "":
		token, err := readToken(opts.TokenFile)
		if err != nil {
			return nil, err
		}
		t.token.Store(&token)
	case opts.Token != "":
		t.token.Store(&opts.Token)
	}
	if t.http != nil {
		if opts.TLS.set() {
			return nil, errors.New("TLS settings are for the transport's own HTTP client: configure the given one instead")
		}
		return t, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	if opts.TLS.set() {
		var err error
		if tr.TLSClientConfig, err = opts.TLS.config(); err != nil {
			return nil, err
		}
	}
	t.http, t.ownHTTP = &http.Client{Transport: tr}, true
	return t, nil
}

// CloseIdleConnections closes the idle connections of the transport's own
// HTTP client; a client given in TransportOptions.HTTP is left alone.
func (t *Transport) CloseIdleConnections() {
	if t.ownHTTP {
		t.http.CloseIdleConnections()
	}
}

// Answer is a successful (2xx) response.
type Answer struct {
	Header http.Header
	Body   []byte
}

// Index is the answer's long-poll index, from its X-Ledgerless-Index.
func (a *Answer) Index() (int64, error) {
	n, err := strconv.ParseInt(a.Header.Get(IndexHeader), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("answer without a valid %s header", IndexHeader)
	}
	return n, nil
}

// Do sends method path (with query) and body, JSON-encoded unless nil, to
// each controller in turn until one answers below 500. A 4xx or 5xx
// answer is a *Problem error (the last one's, for 5xx); a replica that
// cannot be reached gives the HTTP client's error. The trace context of
// ctx goes along as W3C traceparent and baggage headers.
func (t *Transport) Do(ctx context.Context, method, path string, body any) (*Answer, error) {
	return t.DoWith(ctx, method, path, nil, body)
}

// DoWith is Do with the request headers of header added, such as an
// If-Match.
func (t *Transport) DoWith(ctx context.Context, method, path string, header http.Header, body any) (*Answer, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
	}
	a, err := t.send(ctx, method, path, header, payload)
	if p := (*Problem)(nil); errors.As(err, &p) && p.Status == http.StatusUnauthorized && t.reloadToken() {
		// Refused before anything happened: the same request again, with
		// the token the file holds now.
		return t.send(ctx, method, path, header, payload)
	}
	return a, err
}

// reloadToken reads the token file again; it reports whether the token
// changed.
func (t *Transport) reloadToken() bool {
	if t.tokenFile == "" {
		return false
	}
	token, err := readToken(t.tokenFile)
	if err != nil || token == *t.token.Load() {
		return false
	}
	t.token.Store(&token)
	return true
}

// send is Do with an encoded body.
func (t *Transport) send(ctx context.Context, method, path string, header http.Header, payload []byte) (*Answer, error) {
	var failures []error
	var lines []string
	start := int(t.preferred.Load())
	for k := range t.bases {
		i := (start + k) % len(t.bases)
		a, next, err := t.attempt(ctx, method, t.bases[i]+path, header, payload)
		switch {
		case err == nil:
			t.preferred.Store(int64(i))
		case ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded):
			// This replica failed us: try the next one first next time.
			t.preferred.CompareAndSwap(int64(i), int64((i+1)%len(t.bases)))
		}
		if !next {
			return a, err
		}
		failures = append(failures, err)
		lines = append(lines, describe(t.bases[i], err))
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.AddEvent("controller failed", trace.WithAttributes(
				attribute.String("url.full", t.bases[i]+path), attribute.String("error.message", err.Error())))
		}
	}
	if len(failures) == 1 {
		return nil, failures[0]
	}
	return nil, fmt.Errorf("no controller answered:\n  %s", strings.Join(lines, "\n  "))
}

// Call sends a request like Do and decodes a JSON answer into out unless
// out is nil.
func (t *Transport) Call(ctx context.Context, method, path string, body, out any) (*Answer, error) {
	return t.CallWith(ctx, method, path, nil, body, out)
}

// CallWith is Call with the request headers of header added.
func (t *Transport) CallWith(ctx context.Context, method, path string, header http.Header, body, out any) (*Answer, error) {
	a, err := t.DoWith(ctx, method, path, header, body)
	if err != nil || out == nil {
		return a, err
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return nil, fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
	}
	return a, nil
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
func (t *Transport) attempt(ctx context.Context, method, target string, header http.Header, payload []byte) (_ *Answer, next bool, _ error) {
	parent := ctx
	if limit := t.answerTimeout; limit > 0 && method != http.MethodPost && len(t.bases) > 1 {
		limit += pollWait(ctx)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, limit, fmt.Errorf("no answer within %s", limit))
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
	if err != nil {
		return nil, false, fmt.Errorf("request %s %s: %w", method, target, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if payload != nil {
		req.Header.Set("Content-Type", contentType(method))
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if token := t.token.Load(); token != nil {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	t.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := t.http.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return nil, false, fmt.Errorf("%s %s: %w", method, target, parent.Err())
		}
		if ctx.Err() != nil { // this replica's answer timeout, not the caller's
			return nil, true, fmt.Errorf("%s %s: %w", method, target, context.Cause(ctx))
		}
		return nil, method != http.MethodPost || isDialError(err), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		if parent.Err() == nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, method != http.MethodPost, fmt.Errorf("%s %s: read answer: %w", method, target, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, method != http.MethodPost, problemOf(resp, body)
	case resp.StatusCode >= 400:
		return nil, false, problemOf(resp, body)
	case resp.StatusCode >= 300:
		return nil, false, fmt.Errorf("%s %s: unexpected redirect %s", method, target, resp.Status)
	}
	return &Answer{Header: resp.Header, Body: body}, false, nil
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

// Ready reports whether the controller replica at base (http(s)://host:port)
// answers GET /readyz with 200, asked through hc: it serves, and reaches
// etcd. Only that replica is asked.
func Ready(ctx context.Context, hc *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitKey marks a long poll's context with its wait.
type waitKey struct{}

// withPollWait marks ctx as a long poll's that waits up to wait.
func withPollWait(ctx context.Context, wait time.Duration) context.Context {
	return context.WithValue(ctx, waitKey{}, wait)
}

// pollWait is the wait of the long poll ctx is for, or 0.
func pollWait(ctx context.Context) time.Duration {
	wait, _ := ctx.Value(waitKey{}).(time.Duration)
	return wait
}
