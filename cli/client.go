package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ledgerless/ledgerless/client"
)

// apiClient is the CLI's side of the REST transport it shares with the
// broker SDK (replicas tried in turn, a POST never repeated once it may
// have reached one, problem details decoded): it classifies every failure
// for the exit code, a refusal (4xx) as Refused and anything else as
// Unavailable.
type apiClient struct {
	t        *client.Transport
	certless bool // https controllers, and no client certificate for them
}

// newAPIClient returns a client of a transport of opts.
func newAPIClient(opts client.TransportOptions) (*apiClient, error) {
	t, err := client.NewTransport(opts)
	if err != nil {
		return nil, err
	}
	https := slices.ContainsFunc(opts.Controllers, func(u string) bool { return strings.HasPrefix(strings.ToLower(u), "https://") })
	return &apiClient{t: t, certless: https && opts.TLS.CertFile == "" && opts.HTTP == nil}, nil
}

// do sends a request; see client.Transport.Do.
func (c *apiClient) do(ctx context.Context, method, path string, body any) (*client.Answer, error) {
	a, err := c.t.Do(ctx, method, path, body)
	return a, c.classified(err)
}

// call sends a request and decodes a JSON answer into out unless out is nil.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) (*client.Answer, error) {
	a, err := c.t.Call(ctx, method, path, body, out)
	return a, c.classified(err)
}

// callWith is call with the request headers of header added.
func (c *apiClient) callWith(ctx context.Context, method, path string, header http.Header, body, out any) (*client.Answer, error) {
	a, err := c.t.CallWith(ctx, method, path, header, body, out)
	return a, c.classified(err)
}

// get reads path into out; it returns the answer for its raw body and
// headers.
func (c *apiClient) get(ctx context.Context, path string, out any) (*client.Answer, error) {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// pollGroup reads a group, waiting for a change as client.PollGroup does.
func (c *apiClient) pollGroup(ctx context.Context, cluster, group string, index int64) (*client.Group, *client.Answer, error) {
	g, a, err := c.t.PollGroup(ctx, cluster, group, index, client.DefaultPollWait)
	return g, a, c.classified(err)
}

// classified gives a transport failure its class: Refused for a 4xx
// answer, Unavailable for anything else (unreachable, 5xx, an answer that
// makes no sense), with a hint at the flag that may help.
func (c *apiClient) classified(err error) error {
	if err == nil {
		return nil
	}
	var p *client.Problem
	status := 0
	if errors.As(err, &p) {
		status = p.Status
	}
	if h := hint(err, status, c.certless); h != "" {
		err = fmt.Errorf("%w\n%s", err, h)
	}
	if p != nil && p.Refused() {
		return &Error{Class: Refused, Err: err}
	}
	return &Error{Class: Unavailable, Err: err}
}
