package handlers

import (
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
)

// API types: the JSON contract of REST API v1. They are translated to and
// from domain types here and nowhere else; renaming a field here never
// touches stored data.

type registerRequest struct {
	Address            *string `json:"address"`
	RegisterCode       *string `json:"registerCode"`
	BrokerID           *int64  `json:"brokerId"`
	HeartbeatTimeoutMs *int64  `json:"heartbeatTimeoutMs"`
}

type registerResponse struct {
	BrokerID int64 `json:"brokerId"`
	Group    group `json:"group"`
}

type heartbeatRequest struct {
	Address            *string `json:"address"`
	Epoch              *int64  `json:"epoch"`
	MaxOffset          *int64  `json:"maxOffset"`
	ConfirmOffset      *int64  `json:"confirmOffset"`
	ElectionPriority   *int64  `json:"electionPriority"`
	HeartbeatTimeoutMs *int64  `json:"heartbeatTimeoutMs"`
}

type heartbeatResponse struct {
	Role              ledgerless.Role `json:"role"`
	MasterBrokerID    *int64          `json:"masterBrokerId"`
	MasterAddress     string          `json:"masterAddress"`
	MasterEpoch       int64           `json:"masterEpoch"`
	SyncStateSet      []int64         `json:"syncStateSet"`
	SyncStateSetEpoch int64           `json:"syncStateSetEpoch"`
}

type group struct {
	Cluster           string   `json:"cluster"`
	Group             string   `json:"group"`
	MasterBrokerID    *int64   `json:"masterBrokerId"`
	MasterAddress     string   `json:"masterAddress"`
	MasterEpoch       int64    `json:"masterEpoch"`
	SyncStateSet      []int64  `json:"syncStateSet"`
	SyncStateSetEpoch int64    `json:"syncStateSetEpoch"`
	Paused            bool     `json:"paused"`
	Brokers           []broker `json:"brokers"`
}

type broker struct {
	BrokerID           int64      `json:"brokerId"`
	Address            string     `json:"address"`
	Alive              bool       `json:"alive"`
	InSync             bool       `json:"inSync"`
	Epoch              int64      `json:"epoch"`
	MaxOffset          int64      `json:"maxOffset"`
	ConfirmOffset      int64      `json:"confirmOffset"`
	ElectionPriority   int64      `json:"electionPriority"`
	HeartbeatTimeoutMs int64      `json:"heartbeatTimeoutMs"`
	LastHeartbeat      *time.Time `json:"lastHeartbeat"`
}

type groupsResponse struct {
	Groups []group `json:"groups"`
}

type clustersResponse struct {
	Clusters []cluster `json:"clusters"`
}

type cluster struct {
	Cluster string   `json:"cluster"`
	Groups  []string `json:"groups"`
}

type runtimeConfig struct {
	EnableElectUncleanMaster  bool     `json:"enableElectUncleanMaster"`
	Paused                    bool     `json:"paused"`
	PausedGroups              []string `json:"pausedGroups"`
	DefaultHeartbeatTimeoutMs int64    `json:"defaultHeartbeatTimeoutMs"`
}

type controllerResponse struct {
	Replicas []replica `json:"replicas"`
	Etcd     etcdInfo  `json:"etcd"`
}

type replica struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"startedAt"`
	Alive     bool      `json:"alive"`
}

type etcdInfo struct {
	Endpoints []string `json:"endpoints"`
	Embedded  bool     `json:"embedded"`
	Leader    string   `json:"leader"`
}

func masterID(st ledgerless.State) *int64 { return optionalID(st.MasterBrokerID) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func toHeartbeatResponse(st ledgerless.State, id int64) heartbeatResponse {
	return heartbeatResponse{Role: ledgerless.RoleOf(st, id), MasterBrokerID: masterID(st), MasterAddress: st.MasterAddress,
		MasterEpoch: st.MasterEpoch, SyncStateSet: nonNil(st.SyncStateSet), SyncStateSetEpoch: st.SyncStateSetEpoch}
}

func toGroup(g *ledgerless.Group) group {
	out := group{Cluster: g.Key.Cluster, Group: g.Key.Group, MasterBrokerID: masterID(g.State),
		MasterAddress: g.State.MasterAddress, MasterEpoch: g.State.MasterEpoch,
		SyncStateSet: nonNil(g.State.SyncStateSet), SyncStateSetEpoch: g.State.SyncStateSetEpoch,
		Paused: g.Paused, Brokers: make([]broker, len(g.Brokers))}
	for i, b := range g.Brokers {
		out.Brokers[i] = broker{BrokerID: b.ID, Address: b.Address, Alive: b.Alive, InSync: g.State.InSync(b.ID),
			Epoch: b.Heartbeat.Epoch, MaxOffset: b.Heartbeat.MaxOffset, ConfirmOffset: b.Heartbeat.ConfirmOffset,
			ElectionPriority: b.Heartbeat.ElectionPriority, HeartbeatTimeoutMs: b.HeartbeatTimeout.Milliseconds()}
		if !b.LastHeartbeat.IsZero() {
			t := b.LastHeartbeat
			out.Brokers[i].LastHeartbeat = &t
		}
	}
	return out
}

func toRuntimeConfig(c ledgerless.RuntimeConfig) runtimeConfig {
	return runtimeConfig{EnableElectUncleanMaster: c.EnableElectUncleanMaster, Paused: c.Paused,
		PausedGroups: nonNil(c.PausedGroups), DefaultHeartbeatTimeoutMs: c.DefaultHeartbeatTimeout.Milliseconds()}
}

func toController(c service.Controller) controllerResponse {
	out := controllerResponse{Replicas: []replica{},
		Etcd: etcdInfo{Endpoints: nonNil(c.Etcd.Endpoints), Embedded: c.Embedded, Leader: c.Etcd.Leader}}
	for _, r := range c.Replicas {
		out.Replicas = append(out.Replicas, replica{ID: r.ID, Address: r.Address, Version: r.Version,
			StartedAt: r.StartedAt, Alive: r.Alive})
	}
	return out
}
