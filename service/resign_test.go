package service_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// A master that resigns through one of three replicas is replaced with
// reason master-resigned, though the other two watch its lease go and
// would elect at once for a lost master: the resignation ends its
// liveness and elects its successor in one transaction. Every trial
// counts; the brokers take turns as master.
func TestResignationIsRecordedAsResignedWhicheverReplicaElects(t *testing.T) {
	const trials = 30
	const ttl = 2 * time.Second
	// One observer for the three replicas: what their metrics add up to.
	obs := &observer{elections: map[[2]string]int{}, failovers: map[string][]time.Duration{}}
	prefix := storetest.Prefix(t)
	var rs []*replica
	for _, id := range []string{"r1", "r2", "r3"} {
		rs = append(rs, startReplicaWith(t, prefix, service.Options{ReplicaID: id, Reconcile: 200 * time.Millisecond, Observer: obs}))
	}
	connected(t, ttl, rs...) // past the grace: the watchers would elect at once
	g := key("resign-race")
	codes := []string{"a", "b", "c"}
	for _, c := range codes {
		register(t, rs[0], g, c, ttl)
	}
	inSync(t, rs[0], g, 1, 2, 3)
	heartbeating(t, rs[0], g, 400*time.Millisecond, time.Second, 1, 2, 3) // no lease expires meanwhile
	for trial := range trials {
		before := group(t, rs[0], g).State
		via := rs[trial%3]
		if err := via.Resign(ctxT(t), g, before.MasterBrokerID); err != nil {
			t.Fatalf("trial %d: resign %d: %v", trial, before.MasterBrokerID, err)
		}
		// Resign returns once the successor is elected, by whichever
		// replica: the epoch's entry is final.
		h := history(t, rs[(trial+1)%3], g)
		e := h[0]
		if e.MasterEpoch != before.MasterEpoch+1 || e.OldMasterBrokerID != before.MasterBrokerID || e.NewMasterBrokerID == 0 ||
			e.Reason != ledgerless.ReasonResigned || e.Replica != via.ReplicaID() {
			t.Errorf("trial %d: master %d resigned through %s at epoch %d; latest history entry %+v", trial,
				before.MasterBrokerID, via.ReplicaID(), before.MasterEpoch, e)
		}
		// The resigned broker comes back and is made in sync again.
		register(t, rs[0], g, codes[before.MasterBrokerID-1], ttl)
		inSync(t, rs[0], g, 1, 2, 3)
	}
	h := history(t, rs[0], g)
	resigned := 0
	for _, e := range h {
		if e.Reason == ledgerless.ReasonResigned {
			resigned++
		}
	}
	if resigned != trials || len(h) != trials+1 {
		t.Fatalf("history after %d resignations: %d entries, %d master-resigned: %s", trials, len(h), resigned, fmt.Sprint(h))
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	resignedElections := obs.elections[[2]string{ledgerless.ReasonResigned, election.OutcomeElected}]
	if resignedElections != trials || len(obs.failovers[ledgerless.ReasonResigned]) != trials || len(obs.failovers[ledgerless.ReasonMasterLost]) != 0 {
		t.Errorf("elections counted %v, failovers timed %v; want %d resigned and nothing else", obs.elections, obs.failovers, trials)
	}
}
