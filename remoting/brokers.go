package remoting

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/tracing"
)

// The codes a broker calls, from start-up to failover.

func (s *Server) handlers() map[int]handler {
	return map[int]handler{
		BrokerHeartbeat:        s.heartbeat,
		AlterSyncStateSet:      s.alterSyncStateSet,
		ElectMaster:            s.electMaster,
		RegisterBroker:         s.registerBroker,
		GetReplicaInfo:         s.replicaInfo,
		GetMetadataInfo:        s.metadata,
		GetSyncStateData:       s.syncStateData,
		UpdateControllerConfig: s.updateConfig,
		GetControllerConfig:    s.getConfig,
		CleanBrokerData:        s.cleanBrokerData,
		GetNextBrokerID:        s.nextBrokerID,
		ApplyBrokerID:          s.applyBrokerID,
	}
}

// fail answers err with its condition's RocketMQ code; as wants says
// which conditions this code answers with another one (RocketMQ's
// controller names an unknown group differently per request).
func fail(req *Command, err error, ext Fields, as map[error]int) *Command {
	code := ledgerless.RocketMQSystemError
	if c, ok := ledgerless.ConditionOf(err); ok {
		code = c.RocketMQ
	}
	for sentinel, other := range as {
		if errors.Is(err, sentinel) {
			code = other
		}
	}
	resp := req.Response(code, err.Error())
	resp.Ext = ext
	return resp
}

func ok(req *Command, ext Fields, body []byte) *Command {
	resp := req.Response(Success, "")
	resp.Ext, resp.Body = ext, body
	return resp
}

// groupOf names the group of a request: cluster and brokerName, or the
// brokerName alone, looked up.
func (s *Server) groupOf(ctx context.Context, f Fields, r *reply) (ledgerless.GroupKey, error) {
	return s.group(ctx, f, r, false)
}

// namedGroup is the group of a request that must name its cluster (1003,
// 1012 and 1013, which may create a group).
func (s *Server) namedGroup(ctx context.Context, f Fields, r *reply) (ledgerless.GroupKey, error) {
	return s.group(ctx, f, r, true)
}

func (s *Server) group(ctx context.Context, f Fields, r *reply, needCluster bool) (ledgerless.GroupKey, error) {
	name, _ := f.String("brokerName")
	cluster, _ := f.String("clusterName")
	var g ledgerless.GroupKey
	if cluster != "" || needCluster {
		g = ledgerless.GroupKey{Cluster: cluster, Group: name}
		if err := g.Validate(); err != nil {
			return g, err
		}
	} else {
		var err error
		if g, err = s.opts.Service.FindGroup(ctx, name); err != nil {
			return g, err
		}
	}
	r.add(tracing.GroupAttributes(g)...)
	return g, nil
}

func brokerID(f Fields, key string, r *reply) (int64, error) {
	id, ok := f.Int64(key)
	if !ok {
		return 0, ledgerless.Invalid(key + " is required: a broker id")
	}
	r.add(tracing.BrokerID.Int64(id))
	return id, nil
}

func syncStateSetBody(st ledgerless.State) []byte {
	b, _ := EncodeBody(SyncStateSetBody{SyncStateSet: nonNil(st.SyncStateSet), SyncStateSetEpoch: st.SyncStateSetEpoch})
	return b
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// heartbeat (904, oneway) keeps a broker alive and records its data.
func (s *Server) heartbeat(ctx context.Context, req *Command, r *reply) *Command {
	g, err := s.groupOf(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, nil, nil)
	}
	id, err := brokerID(req.Ext, "brokerId", r)
	if err != nil {
		return fail(req, fmt.Errorf("heart beat with empty brokerId: %w", err), nil, nil)
	}
	var beat service.Beat
	if addr, ok := req.Ext.String("brokerAddr"); ok {
		if err := ledgerless.ValidateAddress(addr); err != nil {
			return fail(req, err, nil, nil)
		}
		beat.Address = addr
	}
	if ms, ok := req.Ext.Int64("heartbeatTimeoutMills"); ok {
		if beat.Timeout, err = service.HeartbeatTimeout(ms); err != nil {
			return fail(req, err, nil, nil)
		}
	}
	nonNeg := func(key string, def int64) int64 {
		v, ok := req.Ext.Int64(key)
		if !ok || v < 0 {
			return def
		}
		return v
	}
	beat.Data = ledgerless.HeartbeatData{Epoch: nonNeg("epoch", 0), MaxOffset: nonNeg("maxOffset", 0),
		ConfirmOffset: nonNeg("confirmOffset", 0), ElectionPriority: nonNeg("electionPriority", 1<<31-1)}
	if r.conn != nil {
		r.conn.tie(g, id)
	}
	if err := s.opts.Service.SharedHeartbeat(ctx, g, id, beat); err != nil {
		s.log.DebugContext(ctx, "remoting heartbeat refused", "group", g.String(), "broker", id, "err", err)
		return fail(req, err, nil, nil)
	}
	return ok(req, nil, nil)
}

// nextBrokerID (1012) tells a new broker the id to apply for.
func (s *Server) nextBrokerID(ctx context.Context, req *Command, r *reply) *Command {
	ext := echoNames(req.Ext)
	g, err := s.namedGroup(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	id, err := s.opts.Service.NextBrokerID(ctx, g)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	ext.SetInt64("nextBrokerId", id)
	return ok(req, ext, nil)
}

// applyBrokerID (1013) claims an id with the broker's register check
// code, "<address>;<time>".
func (s *Server) applyBrokerID(ctx context.Context, req *Command, r *reply) *Command {
	ext := echoNames(req.Ext)
	g, err := s.namedGroup(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	id, err := brokerID(req.Ext, "appliedBrokerId", r)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	code, _ := req.Ext.String("registerCheckCode")
	address, _, _ := strings.Cut(code, ";")
	if err := s.opts.Service.ApplyBrokerID(ctx, g, id, code, address); err != nil {
		return fail(req, err, ext, nil)
	}
	return ok(req, ext, nil)
}

// registerBroker (1003) confirms a registration and tells the broker its
// group's alive master and SyncStateSet.
func (s *Server) registerBroker(ctx context.Context, req *Command, r *reply) *Command {
	ext := echoNames(req.Ext)
	notRegistered := map[error]int{ledgerless.ErrBrokerMetadataNotExist: 2010}
	g, err := s.namedGroup(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, ext, notRegistered)
	}
	id, err := brokerID(req.Ext, "brokerId", r)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	address, _ := req.Ext.String("brokerAddress")
	grp, err := s.opts.Service.ConfirmRegistration(ctx, g, id, address)
	if err != nil {
		return fail(req, err, ext, notRegistered)
	}
	if r.conn != nil {
		r.conn.tie(g, id)
	}
	if m, found := grp.Master(); found && m.Alive {
		ext.SetInt64("masterBrokerId", m.ID)
		ext.Set("masterAddress", m.Address)
		ext.SetInt64("masterEpoch", grp.State.MasterEpoch)
		ext.SetInt64("syncStateSetEpoch", grp.State.SyncStateSetEpoch)
	}
	return ok(req, ext, syncStateSetBody(grp.State))
}

// replicaInfo (1004) is the broker's poll of its group's state.
func (s *Server) replicaInfo(ctx context.Context, req *Command, r *reply) *Command {
	g, err := s.groupOf(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, Fields{}, nil)
	}
	grp, err := s.opts.Service.Group(ctx, g)
	if err != nil {
		return fail(req, err, Fields{}, nil)
	}
	ext := Fields{}
	if st := grp.State; st.MasterBrokerID != 0 {
		ext.SetInt64("masterBrokerId", st.MasterBrokerID)
		ext.Set("masterAddress", st.MasterAddress)
	}
	ext.SetInt64("masterEpoch", grp.State.MasterEpoch)
	return ok(req, ext, syncStateSetBody(grp.State))
}

// alterSyncStateSet (1001) is the master's change of its SyncStateSet,
// checked in RocketMQ's order.
func (s *Server) alterSyncStateSet(ctx context.Context, req *Command, r *reply) *Command {
	ext := Fields{{"newSyncStateSetEpoch", "0"}}
	unknown := map[error]int{ledgerless.ErrBrokerMetadataNotExist: 2013}
	g, err := s.groupOf(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, ext, unknown)
	}
	master, err := brokerID(req.Ext, "masterBrokerId", r)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	epoch, okEpoch := req.Ext.Int32("masterEpoch")
	var body SyncStateSetBody
	if !okEpoch {
		return fail(req, ledgerless.Invalid("masterEpoch is required"), ext, nil)
	}
	if err := DecodeBody(req.Body, &body); err != nil || body.SyncStateSet == nil {
		return fail(req, ledgerless.Invalid("the body must be a SyncStateSet"), ext, nil)
	}
	set, err := service.SyncStateSet(body.SyncStateSet)
	if err != nil {
		return fail(req, err, ext, nil)
	}
	st, err := s.opts.Service.AlterSyncStateSet(ctx, g, election.Alter{MasterBrokerID: master, MasterEpoch: epoch,
		SyncStateSet: set, SyncStateSetEpoch: body.SyncStateSetEpoch})
	if err != nil {
		return fail(req, err, ext, unknown)
	}
	ext.SetInt64("newSyncStateSetEpoch", st.SyncStateSetEpoch)
	return ok(req, ext, syncStateSetBody(st))
}

// electMaster (1002): a broker's own election request, or an operator's
// with designateElect.
func (s *Server) electMaster(ctx context.Context, req *Command, r *reply) *Command {
	notRegistered := map[error]int{ledgerless.ErrBrokerMetadataNotExist: 2010}
	if name, _ := req.Ext.String("brokerName"); name == "" {
		return fail(req, fmt.Errorf("no brokerName: %w", ledgerless.ErrBrokerNeedToBeRegistered), Fields{}, nil)
	}
	g, err := s.groupOf(ctx, req.Ext, r)
	if err != nil {
		return fail(req, err, Fields{}, notRegistered)
	}
	id, hasID := req.Ext.Int64("brokerId")
	designate, _ := req.Ext.Bool("designateElect")
	var grp *ledgerless.Group
	if designate {
		if !hasID || id <= 0 {
			id = 0 // the policy chooses
		}
		r.add(tracing.BrokerID.Int64(id))
		grp, err = s.opts.Service.Elect(ctx, g, id)
	} else {
		if !hasID || id <= 0 {
			return fail(req, ledgerless.Invalid("brokerId is required: the asking broker's id"), Fields{}, nil)
		}
		r.add(tracing.BrokerID.Int64(id))
		grp, err = s.opts.Service.BrokerElect(ctx, g, id)
	}
	if errors.Is(err, ledgerless.ErrMasterStillExist) {
		if grp == nil {
			if grp, err = s.opts.Service.Group(ctx, g); err != nil {
				return fail(req, err, Fields{}, notRegistered)
			}
			err = fmt.Errorf("%w: broker %d is already master of %s", ledgerless.ErrMasterStillExist, grp.State.MasterBrokerID, g)
		}
		body, _ := EncodeBody(ElectMasterBody{SyncStateSet: nonNil(grp.State.SyncStateSet)})
		resp := fail(req, err, masterFields(grp.State), nil)
		resp.Body = body
		return resp
	}
	if err != nil {
		return fail(req, err, Fields{}, notRegistered)
	}
	members := &BrokerMemberGroup{BrokerAddrs: map[int64]string{}, BrokerName: g.Group, Cluster: g.Cluster}
	for _, b := range grp.Brokers {
		members.BrokerAddrs[b.ID] = b.Address
	}
	body, _ := EncodeBody(ElectMasterBody{BrokerMemberGroup: members, SyncStateSet: nonNil(grp.State.SyncStateSet)})
	return ok(req, masterFields(grp.State), body)
}

func masterFields(st ledgerless.State) Fields {
	f := Fields{}
	if st.MasterBrokerID != 0 {
		f.SetInt64("masterBrokerId", st.MasterBrokerID)
		f.Set("masterAddress", st.MasterAddress)
	}
	f.SetInt64("masterEpoch", st.MasterEpoch)
	f.SetInt64("syncStateSetEpoch", st.SyncStateSetEpoch)
	return f
}

// echoNames is the clusterName and brokerName of a request, which the
// answers of 1003, 1012 and 1013 carry back.
func echoNames(f Fields) Fields {
	out := Fields{}
	for _, k := range []string{"clusterName", "brokerName"} {
		if v, ok := f.Get(k); ok {
			out.Set(k, v)
		}
	}
	return out
}
