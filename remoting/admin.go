package remoting

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ledgerless/ledgerless"
)

// The codes mqadmin calls.

// Group is the controller group name 1005 reports (DLedger's group in a
// stock controller).
const Group = "ledgerless"

// metadata (1005) names this replica as the leader: every replica answers
// every request, so a broker never meets NOT_LEADER. peers lists the
// replicas registered in etcd; when etcd cannot be read the answer still
// names this replica, which is all a broker needs.
func (s *Server) metadata(ctx context.Context, req *Command, _ *reply) *Command {
	peers := s.opts.ReplicaID + ":" + s.opts.Address + ";"
	if replicas, err := s.opts.Service.Replicas(ctx); err == nil {
		var b strings.Builder
		for _, rep := range replicas {
			if !rep.Alive {
				continue
			}
			addr := hostPort(rep.Address)
			if rep.ID == s.opts.ReplicaID {
				addr = s.opts.Address
			}
			b.WriteString(rep.ID + ":" + addr + ";")
		}
		if b.Len() > 0 {
			peers = b.String()
		}
	}
	return ok(req, Fields{{"controllerLeaderId", s.opts.ReplicaID}, {"controllerLeaderAddress", s.opts.Address},
		{"isLeader", "true"}, {"peers", peers}, {"group", Group}}, nil)
}

// hostPort is a replica's advertised URL without its scheme.
func hostPort(advertised string) string {
	if u, err := url.Parse(advertised); err == nil && u.Host != "" {
		return u.Host
	}
	return advertised
}

// syncStateData (1006) reports the groups named in the body; unknown
// names are left out.
func (s *Server) syncStateData(ctx context.Context, req *Command, _ *reply) *Command {
	var names []string
	if len(req.Body) == 0 || DecodeBody(req.Body, &names) != nil || len(names) == 0 {
		return fail(req, errors.New("the body must be a JSON array of brokerNames"), nil, nil)
	}
	info := BrokerReplicasInfo{ReplicasInfoTable: map[string]ReplicasInfo{}}
	for _, name := range names {
		g, err := s.opts.Service.FindGroup(ctx, name)
		if errors.Is(err, ledgerless.ErrBrokerMetadataNotExist) {
			continue
		}
		if err != nil {
			return fail(req, err, nil, nil)
		}
		grp, err := s.opts.Service.Group(ctx, g)
		if errors.Is(err, ledgerless.ErrBrokerMetadataNotExist) {
			continue
		}
		if err != nil {
			return fail(req, err, nil, nil)
		}
		ri := ReplicasInfo{InSyncReplicas: []ReplicaIdentity{}, NotInSyncReplicas: []ReplicaIdentity{},
			MasterEpoch: grp.State.MasterEpoch, SyncStateSetEpoch: grp.State.SyncStateSetEpoch}
		if id := grp.State.MasterBrokerID; id != 0 {
			ri.MasterBrokerID, ri.MasterAddress = &id, grp.State.MasterAddress
		}
		for _, b := range grp.Brokers {
			identity := ReplicaIdentity{Alive: b.Alive, BrokerAddress: b.Address, BrokerID: b.ID, BrokerName: g.Group}
			if grp.State.InSync(b.ID) {
				ri.InSyncReplicas = append(ri.InSyncReplicas, identity)
			} else {
				ri.NotInSyncReplicas = append(ri.NotInSyncReplicas, identity)
			}
		}
		info.ReplicasInfoTable[name] = ri
	}
	body, err := EncodeBody(info)
	if err != nil {
		return fail(req, err, nil, nil)
	}
	return ok(req, nil, body)
}

// cleanBrokerData (1011) removes brokers of a group, or the whole group.
// Without isCleanLivingBroker a living broker is refused; the living
// master always is (elect another one first).
func (s *Server) cleanBrokerData(ctx context.Context, req *Command, r *reply) *Command {
	all := map[error]int{ledgerless.ErrBrokerMetadataNotExist: 2009, ledgerless.ErrBrokerNeedToBeRegistered: 2009,
		ledgerless.ErrInvalidRequest: 2009}
	name, _ := req.Ext.String("brokerName")
	g, err := s.groupOf(ctx, req.Ext, r)
	if err != nil {
		return fail(req, fmt.Errorf("broker %s is not existed, clean broker data failure: %w", name, err), nil, all)
	}
	force, _ := req.Ext.Bool("isCleanLivingBroker")
	idsText, _ := req.Ext.String("brokerControllerIdsToClean")
	if strings.TrimSpace(idsText) == "" {
		if err := s.opts.Service.RemoveGroup(ctx, g, force); err != nil {
			return fail(req, err, nil, all)
		}
		return ok(req, nil, nil)
	}
	var ids []int64
	for _, part := range strings.Split(idsText, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || id <= 0 {
			return fail(req, fmt.Errorf("%w: brokerControllerIdsToClean %q is not a ;-separated list of broker ids",
				ledgerless.ErrInvalidCleanBrokerMeta, idsText), nil, nil)
		}
		ids = append(ids, id)
	}
	grp, err := s.opts.Service.Group(ctx, g)
	if err != nil {
		return fail(req, err, nil, all)
	}
	for _, id := range ids { // refuse before removing anything
		b, found := grp.Broker(id)
		if !found {
			return fail(req, fmt.Errorf("%w: broker %d is not registered in %s", ledgerless.ErrInvalidCleanBrokerMeta, id, g), nil, nil)
		}
		if b.Alive && !force {
			return fail(req, fmt.Errorf("%w: broker [%s, %d] is still alive, clean up failure", ledgerless.ErrInvalidCleanBrokerMeta, g.Group, id), nil, nil)
		}
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		if err := s.opts.Service.RemoveBroker(ctx, g, id, force); err != nil {
			return fail(req, err, nil, all)
		}
	}
	return ok(req, nil, nil)
}

// Controller configuration keys (1009 and 1010).
var (
	// blackListed keys are refused as by a stock controller.
	blackListed = []string{"configBlackList", "configStorePath", "rocketmqHome"}
)

// replicaSettings are this replica's own settings in RocketMQ's terms:
// shown by 1010, read-only to 1009 (a change to the value they have is
// accepted and changes nothing).
func (s *Server) replicaSettings() Properties {
	return Properties{
		{"configBlackList", strings.Join(blackListed, ";")},
		{"controllerType", "ledgerless"},
		{"controllerDLegerGroup", Group},
		{"controllerDLegerSelfId", s.opts.ReplicaID},
		{"controllerAddress", s.opts.Address},
		{"notifyBrokerRoleChanged", "true"},
		{"isProcessReadEvent", "true"},
		{"serverChannelMaxIdleTimeSeconds", strconv.FormatInt(int64(s.opts.IdleTimeout/time.Second), 10)},
	}
}

// sharedKeys are the runtime configuration every replica shares (the
// REST API's /v1/config): a change through any replica holds on all.
var sharedKeys = []string{"enableElectUncleanMaster", "paused", "pausedGroups", "defaultHeartbeatTimeoutMs"}

func sharedProperties(c ledgerless.RuntimeConfig) Properties {
	return Properties{
		{"enableElectUncleanMaster", strconv.FormatBool(c.EnableElectUncleanMaster)},
		{"paused", strconv.FormatBool(c.Paused)},
		{"pausedGroups", strings.Join(c.PausedGroups, ";")},
		{"defaultHeartbeatTimeoutMs", strconv.FormatInt(c.DefaultHeartbeatTimeout.Milliseconds(), 10)},
	}
}

// getConfig (1010) answers every setting as properties text.
func (s *Server) getConfig(ctx context.Context, req *Command, _ *reply) *Command {
	c, err := s.opts.Service.Config(ctx)
	if err != nil {
		return fail(req, err, nil, nil)
	}
	return ok(req, nil, append(sharedProperties(c), s.replicaSettings()...).Encode())
}

// updateConfig (1009) changes shared runtime keys, all of them or none.
func (s *Server) updateConfig(ctx context.Context, req *Command, _ *reply) *Command {
	props, err := ParseProperties(req.Body)
	if err != nil || len(props) == 0 {
		return fail(req, fmt.Errorf("the body must be properties text (key=value lines): %v", err), nil, nil)
	}
	own := s.replicaSettings()
	var shared Properties
	for _, kv := range props {
		switch {
		case slices.Contains(blackListed, kv.Key):
			return req.Response(NoPermission, "Can not update config in black list.")
		case slices.Contains(sharedKeys, kv.Key):
			shared = append(shared, kv)
		default:
			v, known := Fields(own).Get(kv.Key)
			if !known {
				return fail(req, ledgerless.Invalid(fmt.Sprintf("unknown controller setting %q; the shared ones are %s",
					kv.Key, strings.Join(sharedKeys, ", "))), nil, nil)
			}
			if v != kv.Value {
				return req.Response(NoPermission, fmt.Sprintf("%s is this replica's own setting (%s) and cannot be changed at run time", kv.Key, v))
			}
		}
	}
	if len(shared) == 0 {
		return ok(req, nil, nil)
	}
	_, err = s.opts.Service.PatchConfig(ctx, func(c *ledgerless.RuntimeConfig) error { return applyShared(c, shared) })
	if err != nil {
		return fail(req, err, nil, nil)
	}
	return ok(req, nil, nil)
}

func applyShared(c *ledgerless.RuntimeConfig, props Properties) error {
	for _, kv := range props {
		switch kv.Key {
		case "enableElectUncleanMaster", "paused":
			b, err := strconv.ParseBool(kv.Value)
			if err != nil {
				return ledgerless.Invalid(fmt.Sprintf("%s %q must be true or false", kv.Key, kv.Value))
			}
			if kv.Key == "paused" {
				c.Paused = b
			} else {
				c.EnableElectUncleanMaster = b
			}
		case "pausedGroups":
			c.PausedGroups = nil
			for _, g := range strings.FieldsFunc(kv.Value, func(r rune) bool { return r == ';' || r == ',' }) {
				c.PausedGroups = append(c.PausedGroups, strings.TrimSpace(g))
			}
		case "defaultHeartbeatTimeoutMs":
			ms, err := strconv.ParseInt(kv.Value, 10, 64)
			if err != nil {
				return ledgerless.Invalid(fmt.Sprintf("defaultHeartbeatTimeoutMs %q must be an integer", kv.Value))
			}
			c.DefaultHeartbeatTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	return nil
}
