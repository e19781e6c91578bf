package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ledgerless/ledgerless"
)

// api is a broker's (and an operator's) view of the REST API: HTTP/1.1
// with keep-alive connections, as brokers use it.
type api struct {
	base string
	hc   *http.Client
}

// newAPI returns a client of the controller at base that keeps up to
// conns connections open. HTTP/1.1 carries one request at a time per
// connection, so conns must be at least the number of requests in flight
// (a long poll holds its connection for its whole wait); MaxConnsPerHost
// stays unlimited so that nothing queues in the client.
func newAPI(base string, conns int) *api {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
	}
	return &api{base: base, hc: &http.Client{Transport: t}}
}

// close drops the client's idle connections.
func (a *api) close() { a.hc.CloseIdleConnections() }

// groupView is the part of a group response the benchmarks look at.
type groupView struct {
	MasterBrokerID    int64   `json:"masterBrokerId"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
	Index             int64   `json:"-"`
}

// call sends method path with a JSON body (nil: none) and decodes a 2xx
// answer into out (nil: discarded). Any other answer is an error that
// carries the problem's text.
func (a *api) call(ctx context.Context, method, path string, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		problem, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(problem))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.Header, err
	}
	return resp.Header, json.NewDecoder(resp.Body).Decode(out)
}

func groupPath(g ledgerless.GroupKey) string {
	return "/v1/clusters/" + g.Cluster + "/groups/" + g.Group
}

func brokerPath(g ledgerless.GroupKey, id int64) string {
	return groupPath(g) + "/brokers/" + strconv.FormatInt(id, 10)
}

// register registers a broker with register code code and heartbeat
// timeout ttl, and returns its id.
func (a *api) register(ctx context.Context, g ledgerless.GroupKey, code string, ttl time.Duration) (int64, error) {
	body := fmt.Appendf(nil, `{"address":"127.0.0.1:10911","registerCode":%q,"heartbeatTimeoutMs":%d}`, code, ttl.Milliseconds())
	var out struct {
		BrokerID int64 `json:"brokerId"`
	}
	_, err := a.call(ctx, http.MethodPost, groupPath(g)+"/brokers", body, &out)
	return out.BrokerID, err
}

// heartbeat sends a heartbeat to path (a broker's heartbeat route) with
// maxOffset, in epoch 1.
func (a *api) heartbeat(ctx context.Context, path string, maxOffset int64) error {
	body := fmt.Appendf(nil, `{"epoch":1,"maxOffset":%d,"confirmOffset":%d,"electionPriority":0}`, maxOffset, maxOffset)
	_, err := a.call(ctx, http.MethodPut, path, body, nil)
	return err
}

// heartbeatTimeout is heartbeat with the broker's heartbeat timeout: a
// new timeout gives the broker a new lease.
func (a *api) heartbeatTimeout(ctx context.Context, path string, maxOffset int64, timeout time.Duration) error {
	body := fmt.Appendf(nil, `{"epoch":1,"maxOffset":%d,"confirmOffset":%d,"electionPriority":0,"heartbeatTimeoutMs":%d}`,
		maxOffset, maxOffset, timeout.Milliseconds())
	_, err := a.call(ctx, http.MethodPut, path, body, nil)
	return err
}

func heartbeatPath(g ledgerless.GroupKey, id int64) string { return brokerPath(g, id) + "/heartbeat" }

// group reads a group; with wait > 0 it long-polls for an index above
// index.
func (a *api) group(ctx context.Context, g ledgerless.GroupKey, index int64, wait time.Duration) (groupView, error) {
	path := groupPath(g)
	if wait > 0 {
		path += fmt.Sprintf("?index=%d&wait=%s", index, wait)
	}
	var v groupView
	h, err := a.call(ctx, http.MethodGet, path, nil, &v)
	if err != nil {
		return v, err
	}
	v.Index, err = strconv.ParseInt(h.Get("X-Ledgerless-Index"), 10, 64)
	return v, err
}

// inSync has the master of g put every id of set into the SyncStateSet.
func (a *api) inSync(ctx context.Context, g ledgerless.GroupKey, set ...int64) error {
	v, err := a.group(ctx, g, 0, 0)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"masterBrokerId": v.MasterBrokerID, "masterEpoch": v.MasterEpoch,
		"syncStateSet": set, "syncStateSetEpoch": v.SyncStateSetEpoch})
	_, err = a.call(ctx, http.MethodPost, groupPath(g)+"/sync-state-set", body, nil)
	return err
}

// resign revokes broker id's lease: a clean shutdown.
func (a *api) resign(ctx context.Context, g ledgerless.GroupKey, id int64) error {
	_, err := a.call(ctx, http.MethodDelete, brokerPath(g, id)+"/lease", nil, nil)
	return err
}

// elect makes broker id master of g (a switchover).
func (a *api) elect(ctx context.Context, g ledgerless.GroupKey, id int64) error {
	_, err := a.call(ctx, http.MethodPost, groupPath(g)+"/elect", fmt.Appendf(nil, `{"brokerId":%d}`, id), nil)
	return err
}

// removeGroup deletes g with its brokers, alive or not.
func (a *api) removeGroup(ctx context.Context, g ledgerless.GroupKey) error {
	_, err := a.call(ctx, http.MethodDelete, groupPath(g)+"?force=true", nil, nil)
	return err
}
