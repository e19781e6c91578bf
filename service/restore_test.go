package service_test

import (
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// TestRestoredGroupsElectFromReportingBrokers: after a restore fence, a
// group elects only once its brokers reported to the restored state, picks
// the broker with the newest data whatever the snapshot's SyncStateSet
// says, at an epoch above the fence and above every epoch a broker
// reported; a group the snapshot lacks starts above the fence too.
func TestRestoredGroupsElectFromReportingBrokers(t *testing.T) {
	prefix := storetest.Prefix(t)
	before := startReplica(t, prefix, "r1")
	g := key("g")
	register(t, before, g, "m", 0)
	register(t, before, g, "s", 0) // not in the SyncStateSet: the snapshot's set is {1}
	heartbeat(t, before, g, 1, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100})
	heartbeat(t, before, g, 2, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100})
	before.stop()

	const margin = 100
	if _, err := storetest.Open(t, prefix).ApplyFence(ctxT(t), store.Fence{ID: "0000000000000001", EpochMargin: margin}, "restore", time.Now()); err != nil {
		t.Fatal(err)
	}
	r := startReplica(t, prefix, "r2")
	if st := group(t, r, g).State; st.MasterBrokerID != 0 || st.MasterEpoch != 1+margin || !st.Restored {
		t.Fatalf("fenced state %+v", st)
	}

	// Since the snapshot, broker 2 became master at epoch 7 and wrote more.
	if st := heartbeat(t, r, g, 2, ledgerless.HeartbeatData{Epoch: 7, MaxOffset: 500}); st.MasterBrokerID != 0 {
		t.Fatalf("elected with one of two brokers reported: %+v", st)
	}
	reported := time.Now()
	heartbeat(t, r, g, 1, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100})
	eventually(t, 10*time.Second, func() bool { return group(t, r, g).State.MasterBrokerID != 0 })
	st := group(t, r, g).State
	if st.MasterBrokerID != 2 || st.MasterEpoch != 1+margin+1 || st.Restored || st.SyncStateSetEpoch <= margin {
		t.Errorf("after the reports: %+v; want broker 2 (newest data, outside the old set) at masterEpoch %d", st, 1+margin+1)
	}
	// The election came after the last broker reported, not before.
	h := history(t, r, g)
	if len(h) < 2 || h[0].MasterEpoch != st.MasterEpoch || h[0].Time.Before(reported) || h[1].Reason != ledgerless.ReasonRestored {
		t.Errorf("history %+v; want the restore fence, then an election after %s", h, reported.Format(time.RFC3339Nano))
	}

	// A group the snapshot lacks: ids and epochs start above the fence.
	n := key("created-after-the-snapshot")
	id := register(t, r, n, "x", 0)
	heartbeat(t, r, n, id, ledgerless.HeartbeatData{Epoch: 3, MaxOffset: 10})
	eventually(t, 10*time.Second, func() bool { return group(t, r, n).State.MasterBrokerID == id })
	if st := group(t, r, n).State; id < margin || st.MasterEpoch != margin+1 {
		t.Errorf("new group after the restore: broker id %d, state %+v; want an id of at least %d and masterEpoch %d", id, st, margin, margin+1)
	}
}
