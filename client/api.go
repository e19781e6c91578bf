package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// API types: the JSON of REST API v1 as a client reads it.

// Group is a broker group as the API answers it.
type Group struct {
	Cluster           string        `json:"cluster"`
	Group             string        `json:"group"`
	MasterBrokerID    *int64        `json:"masterBrokerId"` // nil: no master
	MasterAddress     string        `json:"masterAddress"`
	MasterEpoch       int64         `json:"masterEpoch"`
	SyncStateSet      []int64       `json:"syncStateSet"`
	SyncStateSetEpoch int64         `json:"syncStateSetEpoch"`
	Paused            bool          `json:"paused"`
	Brokers           []GroupBroker `json:"brokers"`
}

// GroupBroker is one broker of a Group.
type GroupBroker struct {
	BrokerID           int64      `json:"brokerId"`
	Address            string     `json:"address"`
	Alive              bool       `json:"alive"`
	InSync             bool       `json:"inSync"`
	Epoch              int64      `json:"epoch"`
	MaxOffset          int64      `json:"maxOffset"`
	ConfirmOffset      int64      `json:"confirmOffset"`
	ElectionPriority   int64      `json:"electionPriority"`
	HeartbeatTimeoutMs int64      `json:"heartbeatTimeoutMs"`
	LastHeartbeat      *time.Time `json:"lastHeartbeat"` // nil: never heartbeat
}

type registerRequest struct {
	Address            string `json:"address"`
	RegisterCode       string `json:"registerCode"`
	BrokerID           int64  `json:"brokerId,omitempty"`
	HeartbeatTimeoutMs int64  `json:"heartbeatTimeoutMs"`
}

type registerResponse struct {
	BrokerID int64 `json:"brokerId"`
	Group    Group `json:"group"`
}

type heartbeatRequest struct {
	Address            string `json:"address"`
	Epoch              int64  `json:"epoch"`
	MaxOffset          int64  `json:"maxOffset"`
	ConfirmOffset      int64  `json:"confirmOffset"`
	ElectionPriority   int64  `json:"electionPriority"`
	HeartbeatTimeoutMs int64  `json:"heartbeatTimeoutMs"`
}

type heartbeatResponse struct {
	MasterBrokerID    *int64  `json:"masterBrokerId"`
	MasterAddress     string  `json:"masterAddress"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

type alterRequest struct {
	MasterBrokerID    int64   `json:"masterBrokerId"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

type alterResponse struct {
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

// GroupPath is the API path of a group, with every name escaped; rest
// are further path segments.
func GroupPath(cluster, group string, rest ...string) string {
	p := "/v1/clusters/" + url.PathEscape(cluster) + "/groups/" + url.PathEscape(group)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// PollGroup reads a group: at once for a negative index, else as soon as
// the group's index passes index, or after wait with the group unchanged.
// The answer's Index is valid. ctx bounds the call, which takes up to wait
// plus a round trip.
func (t *Transport) PollGroup(ctx context.Context, cluster, group string, index int64, wait time.Duration) (*Group, *Answer, error) {
	return t.PollGroupAs(ctx, cluster, group, 0, index, wait)
}

// PollGroupAs is PollGroup for broker id of the group (0: none): its long
// poll names it (?broker=id), which makes the open request the broker's
// crash signal on the replica (a poll abandoned because the broker's
// process died deposes it at once, see docs/crash.md).
func (t *Transport) PollGroupAs(ctx context.Context, cluster, group string, broker, index int64, wait time.Duration) (*Group, *Answer, error) {
	path := GroupPath(cluster, group)
	if index >= 0 {
		q := url.Values{"index": {strconv.FormatInt(index, 10)}, "wait": {wait.String()}}
		if broker > 0 {
			q.Set("broker", strconv.FormatInt(broker, 10))
		}
		path += "?" + q.Encode()
		ctx = withPollWait(ctx, wait)
	}
	var g Group
	ans, err := t.Call(ctx, http.MethodGet, path, nil, &g)
	if err != nil {
		return nil, nil, err
	}
	if _, err := ans.Index(); err != nil {
		return nil, nil, err
	}
	return &g, ans, nil
}
