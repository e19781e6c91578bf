package stock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/remoting"
)

// Response codes the broker treats specially (5.1.1+ numbering).
const (
	codeMetadataNotExist = 2008
	codeMasterStillExist = 2011
)

// refusal is a controller's non-SUCCESS answer.
type refusal struct {
	code   int
	remark string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("%s (%d): %s", remoting.ResponseName(r.code), r.code, r.remark)
}

// call sends a sync request to addr with stock's 3 s timeout.
func (b *Broker) call(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	if addr == "" {
		return nil, errors.New("no controller leader known")
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	c, err := b.conns.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", remoting.RequestName(req.Code), addr, err)
	}
	return resp, nil
}

// callLeader is call to the controller leader, requiring SUCCESS.
func (b *Broker) callLeader(ctx context.Context, req *remoting.Command) (*remoting.Command, error) {
	resp, err := b.call(ctx, b.leaderAddr(), req)
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success {
		return resp, &refusal{resp.Code, resp.Remark}
	}
	return resp, nil
}

func (b *Broker) names() remoting.Fields {
	return remoting.Fields{{Key: "clusterName", Value: b.opts.BrokerClusterName}, {Key: "brokerName", Value: b.opts.BrokerName}}
}

// scan is scanAvailableControllerAddresses: the controller addresses the
// broker can connect to.
func (b *Broker) scan(ctx context.Context) {
	var avail []string
	for _, addr := range b.opts.ControllerAddr {
		if _, err := b.conns.get(ctx, addr); err == nil {
			avail = append(avail, addr)
		}
	}
	b.mu.Lock()
	if !slices.Equal(avail, b.avail) {
		b.log.Info("available controllers", "addresses", avail)
	}
	b.avail = avail
	b.mu.Unlock()
}

func (b *Broker) available() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.avail)
}

// updateControllerMetadata asks the available controllers in turn
// (1005); the first to name a leader gives the leader's address.
func (b *Broker) updateControllerMetadata(ctx context.Context) error {
	avail := b.available()
	if len(avail) == 0 {
		return errors.New("no controller address is available")
	}
	var errs []error
	for _, addr := range avail {
		resp, err := b.call(ctx, addr, remoting.Request(remoting.GetMetadataInfo, nil, nil))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		leader, _ := resp.Ext.Get("controllerLeaderAddress")
		if resp.Code != remoting.Success || leader == "" {
			errs = append(errs, fmt.Errorf("%s named no leader: %s", addr, remoting.ResponseName(resp.Code)))
			continue
		}
		b.mu.Lock()
		if b.leader != leader {
			b.log.Info("controller leader", "address", leader, "from", addr)
		}
		b.leader = leader
		b.mu.Unlock()
		return nil
	}
	return fmt.Errorf("controller metadata: %w", errors.Join(errs...))
}

// register is ReplicasManager.register: an id from the identity file, or
// one applied for (1012, then 1013 with the temp file's check code), then
// confirmed (1003), whose answer may name the master.
func (b *Broker) register(ctx context.Context) error {
	id, found, err := b.ids.load(false)
	if err != nil {
		return fatalError{err}
	}
	if !found {
		if id, err = b.applyForID(ctx); err != nil {
			return err
		}
	}
	if id.cluster != b.opts.BrokerClusterName || id.group != b.opts.BrokerName {
		return fatalError{fmt.Errorf("the identity names %s/%s, the broker is of %s/%s",
			id.cluster, id.group, b.opts.BrokerClusterName, b.opts.BrokerName)}
	}
	ext := b.names()
	ext.SetInt64("brokerId", id.id)
	ext.Set("brokerAddress", b.opts.BrokerAddr)
	ext.SetInt64("invokeTime", time.Now().UnixMilli())
	resp, err := b.callLeader(ctx, remoting.Request(remoting.RegisterBroker, ext, nil))
	if err != nil {
		return fmt.Errorf("register broker %d: %w", id.id, err)
	}
	var set remoting.SyncStateSetBody
	if err := remoting.DecodeBody(resp.Body, &set); err != nil {
		return fmt.Errorf("register broker %d: body: %w", id.id, err)
	}
	b.mu.Lock()
	b.id = id.id
	b.mu.Unlock()
	b.log.Info("registered", "brokerId", id.id)
	master, _ := resp.Ext.Int64("masterBrokerId")
	addr, _ := resp.Ext.Get("masterAddress")
	epoch, _ := resp.Ext.Int64("masterEpoch")
	setEpoch, _ := resp.Ext.Int64("syncStateSetEpoch")
	if addr != "" {
		b.changeRole(master, addr, epoch, set.SyncStateSet, setEpoch)
	}
	return nil
}

// applyForID gets a new id: from the temp file of an earlier attempt, or
// 1012 and a new temp file; then 1013. Any failure of 1013 deletes the
// temp file, as stock does.
func (b *Broker) applyForID(ctx context.Context) (identity, error) {
	tmp, found, err := b.ids.load(true)
	if err != nil {
		return identity{}, fatalError{err}
	}
	if !found {
		resp, err := b.callLeader(ctx, remoting.Request(remoting.GetNextBrokerID, b.names(), nil))
		if err != nil {
			return identity{}, fmt.Errorf("next broker id: %w", err)
		}
		next, ok := resp.Ext.Int64("nextBrokerId")
		if !ok {
			return identity{}, errors.New("next broker id: the answer has no nextBrokerId")
		}
		tmp = identity{cluster: b.opts.BrokerClusterName, group: b.opts.BrokerName, id: next,
			code: b.opts.BrokerAddr + ";" + strconv.FormatInt(time.Now().UnixMilli(), 10)}
		if err := b.ids.save(tmp, true); err != nil {
			return identity{}, fatalError{err}
		}
	}
	ext := b.names()
	ext.SetInt64("appliedBrokerId", tmp.id)
	ext.Set("registerCheckCode", tmp.code)
	if _, err := b.callLeader(ctx, remoting.Request(remoting.ApplyBrokerID, ext, nil)); err != nil {
		if rerr := b.ids.removeTemp(); rerr != nil {
			return identity{}, fatalError{rerr}
		}
		return identity{}, fmt.Errorf("apply broker id %d: %w", tmp.id, err)
	}
	id := identity{cluster: tmp.cluster, group: tmp.group, id: tmp.id}
	if err := b.ids.save(id, false); err != nil {
		return identity{}, fatalError{err}
	}
	if err := b.ids.removeTemp(); err != nil {
		return identity{}, fatalError{err}
	}
	b.log.Info("applied for a broker id", "brokerId", id.id)
	return id, nil
}

// brokerElect asks for an election as the broker itself (1002, not
// designated); SUCCESS and MASTER_STILL_EXIST both name the master.
func (b *Broker) brokerElect(ctx context.Context) error {
	ext := b.names()
	ext.SetInt64("brokerId", b.ID())
	ext.SetBool("designateElect", false)
	ext.SetInt64("invokeTime", time.Now().UnixMilli())
	resp, err := b.call(ctx, b.leaderAddr(), remoting.Request(remoting.ElectMaster, ext, nil))
	if err != nil {
		return fmt.Errorf("elect: %w", err)
	}
	if resp.Code != remoting.Success && resp.Code != codeMasterStillExist {
		return fmt.Errorf("elect: %w", &refusal{resp.Code, resp.Remark})
	}
	master, hasMaster := resp.Ext.Int64("masterBrokerId")
	addr, _ := resp.Ext.Get("masterAddress")
	if !hasMaster || addr == "" {
		return errors.New("elect: now no master in broker set")
	}
	var body remoting.ElectMasterBody
	if err := remoting.DecodeBody(resp.Body, &body); err != nil {
		return fmt.Errorf("elect: body: %w", err)
	}
	epoch, _ := resp.Ext.Int64("masterEpoch")
	setEpoch, _ := resp.Ext.Int64("syncStateSetEpoch")
	b.changeRole(master, addr, epoch, body.SyncStateSet, setEpoch)
	return nil
}

// Refresh polls the group's replica info (1004) and acts on it as the
// periodic poll does: a higher masterEpoch with a master is a role
// change, one without a master calls for an election, and 2008 for a
// re-registration. It returns the view after the poll.
func (b *Broker) Refresh(ctx context.Context) (client.View, error) {
	resp, err := b.callLeader(ctx, remoting.Request(remoting.GetReplicaInfo,
		remoting.Fields{{Key: "brokerName", Value: b.opts.BrokerName}}, nil))
	var r *refusal
	if errors.As(err, &r) && r.code == codeMetadataNotExist {
		if rerr := b.register(ctx); rerr != nil {
			b.log.Warn("re-register after "+r.Error(), "err", rerr)
		}
		sleep(ctx, reregisterPause)
		return b.View(), err
	}
	if err != nil {
		return b.View(), fmt.Errorf("replica info: %w", err)
	}
	var set remoting.SyncStateSetBody
	if err := remoting.DecodeBody(resp.Body, &set); err != nil {
		return b.View(), fmt.Errorf("replica info: body: %w", err)
	}
	epoch, _ := resp.Ext.Int64("masterEpoch")
	master, hasMaster := resp.Ext.Int64("masterBrokerId")
	addr, _ := resp.Ext.Get("masterAddress")
	switch cur := b.View(); {
	case epoch > cur.MasterEpoch && hasMaster && addr != "":
		b.changeRole(master, addr, epoch, set.SyncStateSet, set.SyncStateSetEpoch)
	case epoch > cur.MasterEpoch:
		if err := b.brokerElect(ctx); err != nil {
			b.log.Info("no master at masterEpoch "+strconv.FormatInt(epoch, 10), "err", err)
		}
	case epoch == cur.MasterEpoch && hasMaster:
		b.changeRole(master, addr, epoch, set.SyncStateSet, set.SyncStateSetEpoch)
	}
	return b.View(), nil
}

// AlterSyncStateSet reports, as master of masterEpoch, a SyncStateSet
// change (1001) from the one of syncStateSetEpoch. Refusals are errors
// naming the controller's code; the broker takes in the new set on
// SUCCESS.
func (b *Broker) AlterSyncStateSet(ctx context.Context, masterEpoch, syncStateSetEpoch int64, set []int64) (client.SyncState, error) {
	id := b.ID()
	if id == 0 {
		return client.SyncState{}, errors.New("alter sync state set: the broker is not registered yet")
	}
	set = slices.Clone(set)
	slices.Sort(set)
	body, err := remoting.EncodeBody(remoting.SyncStateSetBody{SyncStateSet: set, SyncStateSetEpoch: syncStateSetEpoch})
	if err != nil {
		return client.SyncState{}, err
	}
	ext := remoting.Fields{{Key: "brokerName", Value: b.opts.BrokerName}}
	ext.SetInt64("masterBrokerId", id)
	ext.SetInt64("masterEpoch", masterEpoch)
	ext.SetInt64("invokeTime", time.Now().UnixMilli())
	resp, err := b.callLeader(ctx, remoting.Request(remoting.AlterSyncStateSet, ext, body))
	if err != nil {
		return client.SyncState{}, fmt.Errorf("alter sync state set to %v: %w", set, err)
	}
	var got remoting.SyncStateSetBody
	if err := remoting.DecodeBody(resp.Body, &got); err != nil {
		return client.SyncState{}, fmt.Errorf("alter sync state set to %v: body: %w", set, err)
	}
	b.mu.Lock()
	if b.view.MasterEpoch == masterEpoch && got.SyncStateSetEpoch > b.view.SyncStateSetEpoch {
		b.view.SyncStateSet, b.view.SyncStateSetEpoch = slices.Clone(got.SyncStateSet), got.SyncStateSetEpoch
	}
	b.mu.Unlock()
	return client.SyncState{Set: got.SyncStateSet, Epoch: got.SyncStateSetEpoch}, nil
}

// heartbeatRound sends one oneway heartbeat (904) to every available
// controller address.
func (b *Broker) heartbeatRound(ctx context.Context) {
	id := b.ID()
	if id == 0 {
		return
	}
	p := b.opts.Progress()
	ext := remoting.Fields{{Key: "clusterName", Value: b.opts.BrokerClusterName}, {Key: "brokerAddr", Value: b.opts.BrokerAddr},
		{Key: "brokerName", Value: b.opts.BrokerName}}
	ext.SetInt64("brokerId", id)
	ext.SetInt64("epoch", p.Epoch)
	ext.SetInt64("maxOffset", p.MaxOffset)
	ext.SetInt64("confirmOffset", p.ConfirmOffset)
	ext.SetInt64("heartbeatTimeoutMills", b.opts.ControllerHeartBeatTimeoutMills.Milliseconds())
	ext.SetInt64("electionPriority", b.opts.BrokerElectionPriority)
	var wg sync.WaitGroup
	for _, addr := range b.available() {
		wg.Add(1)
		go func() { // as stock's brokerOuterExecutor: one slow controller delays no other
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, b.opts.SendHeartbeatTimeoutMillis)
			defer cancel()
			c, err := b.conns.get(sctx, addr)
			if err == nil {
				err = c.Oneway(sctx, remoting.Request(remoting.BrokerHeartbeat, slices.Clone(ext), nil))
			}
			if err != nil && !errors.Is(err, errShutdown) {
				b.log.Debug("heartbeat not sent", "controller", addr, "err", err)
			}
		}()
	}
	wg.Wait()
}
