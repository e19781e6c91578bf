package remoting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Reading a stock RocketMQ controller's broker-sets, to import them into
// ledgerless: what a broker-set is there (ids, addresses, next id, master,
// masterEpoch, SyncStateSet, syncStateSetEpoch) becomes a ledgerless
// group, so that its brokers keep their ids and epochs when their
// controllerAddr moves to ledgerless.

// GetBrokerClusterInfo is the NameServer's GET_BROKER_CLUSTER_INFO: every
// cluster and its broker names.
const GetBrokerClusterInfo = 106

// ClusterInfo is the NameServer's answer to GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

// BrokerData is one broker name in ClusterInfo.
type BrokerData struct {
	BrokerAddrs map[int64]string `json:"brokerAddrs"`
	BrokerName  string           `json:"brokerName"`
	Cluster     string           `json:"cluster"`
}

// ErrNoAnswer reports that a controller or NameServer could not be
// reached or did not answer in time.
var ErrNoAnswer = errors.New("no answer")

// ErrRefused reports that a controller or NameServer answered a request
// with an error code.
var ErrRefused = errors.New("refused")

// ImportSource says where to read broker-sets from.
type ImportSource struct {
	Controller string // host:port of any node of the stock controller
	// NameServer, host:port, lists the broker names of every cluster; ""
	// when Names and Cluster are given instead.
	NameServer string
	Cluster    string   // only this cluster's names; required without NameServer
	Names      []string // only these broker names; empty: every name the NameServer lists
	Timeout    time.Duration
	// Sign, when set, signs every request (RocketMQ ACL).
	Sign func(*Command)
	// Progress, when set, is told how many broker-sets were read so far,
	// of how many the controller knows.
	Progress func(read, total int)
}

// BrokerSet is one broker-set of the stock controller, as ledgerless will
// keep it.
type BrokerSet struct {
	Group ledgerless.Group
	// StockNextBrokerID is the controller's own next id (1012); the group's
	// NextBrokerID is also above every registered id.
	StockNextBrokerID int64
	Err               error // why it cannot be imported as it is; nil: it can
}

// ImportRead is what ReadBrokerSets found.
type ImportRead struct {
	Leader string      // the controller leader that answered 1006 and 1012
	Sets   []BrokerSet // sorted by cluster and name
	// Unmanaged are names the NameServer lists that the controller does
	// not know: brokers not in controller mode.
	Unmanaged []string
}

// syncStateBatch is how many names one 1006 asks for.
const syncStateBatch = 64

// ImportedRegisterCode is the register code an imported broker gets: a
// stock controller does not tell its brokers' own codes (a broker that
// kept its brokerIdentity file never sends it again). Its address comes
// first, as in a stock code.
func ImportedRegisterCode(address string) string { return address + ";imported-from-rocketmq" }

// ReadBrokerSets reads every broker-set src names from a stock RocketMQ
// controller (or a ledgerless replica, which answers the same codes):
// 1005 for the leader, the names from the NameServer (106) or src, 1006
// for their state and 1012 for their next ids. A broker-set that breaks
// ledgerless's invariants is returned with Err set, not left out.
func ReadBrokerSets(ctx context.Context, src ImportSource) (ImportRead, error) {
	if src.Timeout <= 0 {
		src.Timeout = 3 * time.Second
	}
	if src.Controller == "" {
		return ImportRead{}, ledgerless.Invalid("the controller's address is required")
	}
	if src.NameServer == "" && (len(src.Names) == 0 || src.Cluster == "") {
		return ImportRead{}, ledgerless.Invalid("without a NameServer, give the broker names and their cluster")
	}
	names, err := src.names(ctx)
	if err != nil {
		return ImportRead{}, err
	}
	c, err := src.dial(ctx, src.Controller, "controller")
	if err != nil {
		return ImportRead{}, err
	}
	defer c.Close()
	meta, err := src.call(ctx, c, Request(GetMetadataInfo, nil, nil), "controller "+src.Controller)
	if err != nil {
		return ImportRead{}, err
	}
	// 1006 and 1012 are the leader's: ask the node that says it is the
	// leader on the connection at hand (its advertised address may not be
	// reachable from here), another node's leader at its address.
	read := ImportRead{Leader: src.Controller}
	leader, _ := meta.Ext.String("controllerLeaderAddress")
	if isLeader, _ := meta.Ext.Bool("isLeader"); !isLeader {
		if leader == "" {
			return ImportRead{}, fmt.Errorf("controller %s: %w: it is not the leader and knows none (1005)", src.Controller, ErrNoAnswer)
		}
		read.Leader = leader
		if c, err = src.dial(ctx, leader, "controller leader"); err != nil {
			return ImportRead{}, err
		}
		defer c.Close()
	}

	var unmanaged []string
	known := map[string]ReplicasInfo{}
	for batch := range slices.Chunk(names, syncStateBatch) {
		asked := make([]string, len(batch))
		for i, k := range batch {
			asked[i] = k.Group
		}
		body, _ := EncodeBody(asked)
		resp, err := src.call(ctx, c, Request(GetSyncStateData, nil, body), "1006 from "+read.Leader)
		if err != nil {
			return ImportRead{}, err
		}
		var info BrokerReplicasInfo
		if err := DecodeBody(resp.Body, &info); err != nil {
			return ImportRead{}, fmt.Errorf("1006 from %s: the answer is no BrokerReplicasInfo: %v", read.Leader, err)
		}
		for name, ri := range info.ReplicasInfoTable {
			known[name] = ri
		}
	}
	for _, n := range names {
		if _, ok := known[n.Group]; ok {
			continue
		}
		if src.NameServer == "" || slices.Contains(src.Names, n.Group) {
			return ImportRead{}, fmt.Errorf("%w: controller %s does not know broker-set %s", ledgerless.ErrBrokerMetadataNotExist, read.Leader, n.Group)
		}
		unmanaged = append(unmanaged, n.Group)
	}
	for _, n := range names {
		ri, ok := known[n.Group]
		if !ok {
			continue
		}
		ext := Fields{{"clusterName", n.Cluster}, {"brokerName", n.Group}}
		resp, err := src.call(ctx, c, Request(GetNextBrokerID, ext, nil), "1012 "+n.Group+" from "+read.Leader)
		if err != nil {
			return ImportRead{}, err
		}
		next, ok := resp.Ext.Int64("nextBrokerId")
		if !ok {
			return ImportRead{}, fmt.Errorf("1012 %s from %s: no nextBrokerId in the answer", n.Group, read.Leader)
		}
		read.Sets = append(read.Sets, brokerSet(n, ri, next))
		if src.Progress != nil {
			src.Progress(len(read.Sets), len(known))
		}
	}
	slices.Sort(unmanaged)
	read.Unmanaged = slices.Compact(unmanaged)
	return read, nil
}

// brokerSet turns a stock broker-set into the group ledgerless keeps.
func brokerSet(k ledgerless.GroupKey, ri ReplicasInfo, next int64) BrokerSet {
	g := ledgerless.Group{Key: k, State: ledgerless.State{MasterEpoch: ri.MasterEpoch, SyncStateSetEpoch: ri.SyncStateSetEpoch}}
	var errs []error
	add := func(r ReplicaIdentity, inSync bool) {
		if r.BrokerName != "" && r.BrokerName != k.Group {
			errs = append(errs, fmt.Errorf("%w: broker %d is listed under broker-set %s", ledgerless.ErrInvalidRequest, r.BrokerID, r.BrokerName))
		}
		g.Brokers = append(g.Brokers, ledgerless.Broker{ID: r.BrokerID, Address: r.BrokerAddress, RegisterCode: ImportedRegisterCode(r.BrokerAddress)})
		if inSync {
			g.State.SyncStateSet = append(g.State.SyncStateSet, r.BrokerID)
		}
	}
	for _, r := range ri.InSyncReplicas {
		add(r, true)
	}
	for _, r := range ri.NotInSyncReplicas {
		add(r, false)
	}
	slices.SortFunc(g.Brokers, func(a, b ledgerless.Broker) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(g.State.SyncStateSet)
	g.State.NextBrokerID = max(next, 1)
	if n := len(g.Brokers); n > 0 {
		g.State.NextBrokerID = max(g.State.NextBrokerID, g.Brokers[n-1].ID+1)
	}
	if ri.MasterBrokerID != nil && *ri.MasterBrokerID > 0 {
		g.State.MasterBrokerID, g.State.MasterAddress = *ri.MasterBrokerID, ri.MasterAddress
	}
	errs = append(errs, ledgerless.ValidateImported(g))
	return BrokerSet{Group: g, StockNextBrokerID: next, Err: errors.Join(errs...)}
}

// names are the broker-sets to read, with their clusters: src's names, or
// the NameServer's, filtered by src's cluster and names.
func (src ImportSource) names(ctx context.Context) ([]ledgerless.GroupKey, error) {
	var out []ledgerless.GroupKey
	if src.NameServer == "" {
		for _, n := range src.Names {
			out = append(out, ledgerless.GroupKey{Cluster: src.Cluster, Group: n})
		}
		return sortedKeys(out), nil
	}
	c, err := src.dial(ctx, src.NameServer, "NameServer")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	resp, err := src.call(ctx, c, Request(GetBrokerClusterInfo, nil, nil), "NameServer "+src.NameServer)
	if err != nil {
		return nil, err
	}
	var info ClusterInfo
	if err := DecodeBody(resp.Body, &info); err != nil {
		return nil, fmt.Errorf("NameServer %s: the answer is no ClusterInfo: %v", src.NameServer, err)
	}
	clusterOf := map[string]string{}
	for cluster, names := range info.ClusterAddrTable {
		if src.Cluster != "" && cluster != src.Cluster {
			continue
		}
		for _, n := range names {
			if other, dup := clusterOf[n]; dup {
				return nil, fmt.Errorf("%w: NameServer %s lists broker name %s in clusters %s and %s; a RocketMQ controller keys broker-sets by name alone",
					ledgerless.ErrInvalidRequest, src.NameServer, n, other, cluster)
			}
			clusterOf[n] = cluster
		}
	}
	for n, cluster := range clusterOf {
		if len(src.Names) == 0 || slices.Contains(src.Names, n) {
			out = append(out, ledgerless.GroupKey{Cluster: cluster, Group: n})
		}
	}
	for _, n := range src.Names {
		if _, ok := clusterOf[n]; !ok {
			where := "any cluster"
			if src.Cluster != "" {
				where = "cluster " + src.Cluster
			}
			return nil, fmt.Errorf("%w: NameServer %s lists no broker name %s in %s", ledgerless.ErrBrokerMetadataNotExist, src.NameServer, n, where)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: NameServer %s lists no broker names", ledgerless.ErrBrokerMetadataNotExist, src.NameServer)
	}
	return sortedKeys(out), nil
}

func sortedKeys(keys []ledgerless.GroupKey) []ledgerless.GroupKey {
	slices.SortFunc(keys, func(a, b ledgerless.GroupKey) int {
		return strings.Compare(a.Cluster+"/"+a.Group, b.Cluster+"/"+b.Group)
	})
	return slices.Compact(keys)
}

func (src ImportSource) dial(ctx context.Context, addr, what string) (*Client, error) {
	dctx, cancel := context.WithTimeout(ctx, src.Timeout)
	defer cancel()
	c, err := Dial(dctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %v", what, addr, ErrNoAnswer, err)
	}
	c.Sign = src.Sign
	return c, nil
}

// call sends req and requires SUCCESS.
func (src ImportSource) call(ctx context.Context, c *Client, req *Command, what string) (*Command, error) {
	ictx, cancel := context.WithTimeout(ctx, src.Timeout)
	defer cancel()
	resp, err := c.Invoke(ictx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", what, ErrNoAnswer, err)
	}
	if resp.Code != Success {
		return nil, fmt.Errorf("%s: %w: answered %s (%d): %s", what, ErrRefused, ResponseName(resp.Code), resp.Code, resp.Remark)
	}
	return resp, nil
}
