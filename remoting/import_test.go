package remoting

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/ledgerless/ledgerless"
)

// TestBrokerSet: a stock broker-set becomes the group ledgerless keeps:
// both replica lists are its brokers, the in-sync ones its SyncStateSet,
// and the next id is above the controller's and every registered id. A
// set that breaks ledgerless's invariants keeps its error.
func TestBrokerSet(t *testing.T) {
	k := ledgerless.GroupKey{Cluster: "c", Group: "broker-a"}
	id := func(v int64) *int64 { return &v }
	ri := ReplicasInfo{
		InSyncReplicas:    []ReplicaIdentity{{BrokerID: 4, BrokerAddress: "127.0.0.1:4", BrokerName: "broker-a"}, {BrokerID: 1, BrokerAddress: "127.0.0.1:1"}},
		NotInSyncReplicas: []ReplicaIdentity{{BrokerID: 2, BrokerAddress: "127.0.0.1:2", Alive: true}},
		MasterBrokerID:    id(4), MasterAddress: "127.0.0.1:4", MasterEpoch: 5, SyncStateSetEpoch: 9,
	}
	set := brokerSet(k, ri, 3)
	st := set.Group.State
	if set.Err != nil || st.MasterBrokerID != 4 || st.MasterEpoch != 5 || st.SyncStateSetEpoch != 9 ||
		!slices.Equal(st.SyncStateSet, []int64{1, 4}) || st.NextBrokerID != 5 || set.StockNextBrokerID != 3 {
		t.Fatalf("brokerSet: %+v, %v", set.Group, set.Err)
	}
	var ids []int64
	for _, b := range set.Group.Brokers {
		ids = append(ids, b.ID)
		if b.Alive || b.RegisterCode != ImportedRegisterCode(b.Address) {
			t.Errorf("broker %+v: imported alive, or without the imported register code", b)
		}
	}
	if !slices.Equal(ids, []int64{1, 2, 4}) {
		t.Errorf("broker ids %v, want 1 2 4", ids)
	}
	if set := brokerSet(k, ri, 9); set.Group.State.NextBrokerID != 9 {
		t.Errorf("next id %d, want the controller's 9", set.Group.State.NextBrokerID)
	}
	none := ri
	none.MasterBrokerID, none.MasterAddress = nil, ""
	if set := brokerSet(k, none, 3); set.Err != nil || set.Group.State.MasterBrokerID != 0 {
		t.Errorf("no master: %+v %v", set.Group.State, set.Err)
	}
	for name, change := range map[string]func(*ReplicasInfo){
		"master out of sync": func(r *ReplicasInfo) { r.MasterBrokerID, r.MasterAddress = id(2), "127.0.0.1:2" },
		"an id listed twice": func(r *ReplicasInfo) { r.NotInSyncReplicas = append(r.NotInSyncReplicas, r.InSyncReplicas[1]) },
		"another broker-set": func(r *ReplicasInfo) {
			r.NotInSyncReplicas = []ReplicaIdentity{{BrokerID: 2, BrokerAddress: "127.0.0.1:2", BrokerName: "b"}}
		},
		"an address with none": func(r *ReplicasInfo) { r.NotInSyncReplicas = []ReplicaIdentity{{BrokerID: 2}} },
	} {
		bad := ri
		bad.InSyncReplicas = slices.Clone(ri.InSyncReplicas)
		change(&bad)
		if set := brokerSet(k, bad, 3); !errors.Is(set.Err, ledgerless.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, set.Err)
		}
	}
}

// TestReadBrokerSetsNeedsNames: without a NameServer, the names and their
// cluster are required; an unreachable controller is ErrNoAnswer.
func TestReadBrokerSetsNeedsNames(t *testing.T) {
	ctx := context.Background()
	for _, src := range []ImportSource{{}, {Controller: "127.0.0.1:1"}, {Controller: "127.0.0.1:1", Names: []string{"a"}}} {
		if _, err := ReadBrokerSets(ctx, src); !errors.Is(err, ledgerless.ErrInvalidRequest) {
			t.Errorf("%+v: %v, want ErrInvalidRequest", src, err)
		}
	}
	ln := listenClosed(t)
	if _, err := ReadBrokerSets(ctx, ImportSource{Controller: ln, Cluster: "c", Names: []string{"a"}}); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("unreachable controller: %v, want ErrNoAnswer", err)
	}
}

// listenClosed returns a 127.0.0.1 address where nothing listens any more.
func listenClosed(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
