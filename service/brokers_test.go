package service_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestRegisterIsIdempotentUnderConcurrency(t *testing.T) {
	prefix := storetest.Prefix(t)
	rs := []*replica{startReplica(t, prefix, "r1"), startReplica(t, prefix, "r2")}
	g := key("g")
	ids := make([]int64, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, _, err := rs[i%2].Register(ctxT(t), g, service.Registration{Address: "127.0.0.1:10911", RegisterCode: "same"})
			if err != nil {
				t.Errorf("register %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != 1 {
			t.Fatalf("call %d got id %d, want 1", i, id)
		}
	}
	grp := group(t, rs[0], g)
	if len(grp.Brokers) != 1 || grp.State.NextBrokerID != 2 || grp.State.MasterEpoch != 1 {
		t.Fatalf("group after 50 same-code registrations: %+v", grp)
	}
	if h := history(t, rs[0], g); len(h) != 1 || h[0].Reason != ledgerless.ReasonFirstMaster {
		t.Fatalf("history: %+v", h)
	}
}

func TestBrokerIDsAreNeverReused(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	a, b := register(t, r, g, "a", 0), register(t, r, g, "b", 0)
	if a != 1 || b != 2 {
		t.Fatalf("ids %d, %d; want 1, 2", a, b)
	}
	if err := r.RemoveBroker(ctxT(t), g, b, true); err != nil {
		t.Fatal(err)
	}
	if c := register(t, r, g, "c", 0); c != 3 {
		t.Fatalf("after removing 2, a new broker got %d, want 3", c)
	}
	if again := register(t, r, g, "b", 0); again != 4 {
		t.Fatalf("a removed broker's code registered again got %d, want a new id 4", again)
	}
}

func TestRegisterWithBrokerID(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	id := register(t, r, g, "code-1", 0)
	for _, tc := range []struct {
		name string
		reg  service.Registration
		want error
	}{
		{"matching code", service.Registration{Address: "127.0.0.1:1", RegisterCode: "code-1", BrokerID: id}, nil},
		{"other code", service.Registration{Address: "127.0.0.1:1", RegisterCode: "code-2", BrokerID: id}, ledgerless.ErrBrokerIDInvalid},
		{"unknown id", service.Registration{Address: "127.0.0.1:1", RegisterCode: "code-1", BrokerID: 7}, ledgerless.ErrBrokerNeedToBeRegistered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := group(t, r, g)
			got, _, err := r.Register(ctxT(t), g, tc.reg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.want == nil && got != id {
				t.Fatalf("id %d, want %d", got, id)
			}
			if tc.want != nil && group(t, r, g).Index != before.Index {
				t.Fatal("a refused registration changed the group")
			}
		})
	}
}

func TestAddressChangesAreRecorded(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	id := register(t, r, g, "a", 0)
	if _, _, err := r.Register(ctxT(t), g, service.Registration{Address: "10.0.0.9:10911", RegisterCode: "a"}); err != nil {
		t.Fatal(err)
	}
	grp := group(t, r, g)
	if b, _ := grp.Broker(id); b.Address != "10.0.0.9:10911" || grp.State.MasterAddress != "10.0.0.9:10911" {
		t.Fatalf("after re-registration: broker %+v, master address %q", b, grp.State.MasterAddress)
	}
	st, err := r.Heartbeat(ctxT(t), g, id, service.Beat{Address: "10.0.0.10:10911"})
	if err != nil {
		t.Fatal(err)
	}
	if st.MasterAddress != "10.0.0.10:10911" {
		t.Fatalf("heartbeat answer has master address %q", st.MasterAddress)
	}
	if b, _ := group(t, r, g).Broker(id); b.Address != "10.0.0.10:10911" {
		t.Fatalf("after heartbeat with a new address: %+v", b)
	}
}

func TestHeartbeatKeepsBrokerAliveAndExpiryEndsIt(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	register(t, r, g, "master", 0)
	id := register(t, r, g, "slave", 2*time.Second)
	for i := range 8 { // 4 s: twice the timeout
		heartbeat(t, r, g, id, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: int64(100 + i)})
		time.Sleep(500 * time.Millisecond)
		if b, _ := group(t, r, g).Broker(id); !b.Alive {
			t.Fatalf("broker not alive after %d heartbeats", i+1)
		}
	}
	stopped := time.Now()
	eventually(t, 10*time.Second, func() bool {
		b, _ := group(t, r, g).Broker(id)
		return !b.Alive
	})
	if d := time.Since(stopped); d < 1500*time.Millisecond {
		t.Fatalf("broker died %s after its last heartbeat; its timeout is 2s", d)
	}
	// A heartbeat after expiry makes it alive again.
	heartbeat(t, r, g, id, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 200})
	if b, _ := group(t, r, g).Broker(id); !b.Alive || b.Heartbeat.MaxOffset != 200 {
		t.Fatalf("after reviving heartbeat: %+v", b)
	}
}

func TestHeartbeatDataOnlyMovesForward(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	id := register(t, r, g, "a", 0)
	steps := []struct {
		in   ledgerless.HeartbeatData
		want ledgerless.HeartbeatData
	}{
		{ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100, ConfirmOffset: 90, ElectionPriority: 3}, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100, ConfirmOffset: 90, ElectionPriority: 3}},
		{ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 50}, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100, ConfirmOffset: 90, ElectionPriority: 3}},
		{ledgerless.HeartbeatData{Epoch: 0, MaxOffset: 500}, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 100, ConfirmOffset: 90, ElectionPriority: 3}},
		{ledgerless.HeartbeatData{Epoch: 2, MaxOffset: 10, ElectionPriority: 1}, ledgerless.HeartbeatData{Epoch: 2, MaxOffset: 10, ElectionPriority: 1}},
		{ledgerless.HeartbeatData{Epoch: 2, MaxOffset: 1 << 40, ConfirmOffset: 1 << 39}, ledgerless.HeartbeatData{Epoch: 2, MaxOffset: 1 << 40, ConfirmOffset: 1 << 39}},
	}
	for i, s := range steps {
		heartbeat(t, r, g, id, s.in)
		if b, _ := group(t, r, g).Broker(id); b.Heartbeat != s.want {
			t.Fatalf("step %d: recorded %+v, want %+v", i, b.Heartbeat, s.want)
		}
	}
}

func TestHeartbeatOfUnknownBroker(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	register(t, r, key("g"), "a", 0)
	for _, tc := range []struct {
		g  ledgerless.GroupKey
		id int64
	}{{key("g"), 2}, {key("nope"), 1}} {
		if _, err := r.Heartbeat(ctxT(t), tc.g, tc.id, service.Beat{}); !errors.Is(err, ledgerless.ErrBrokerNeedToBeRegistered) {
			t.Fatalf("heartbeat %s/%d: %v, want ErrBrokerNeedToBeRegistered", tc.g, tc.id, err)
		}
	}
}

func TestResignedSlaveIsNotAlive(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	register(t, r, g, "a", 0)
	id := register(t, r, g, "b", 0)
	if err := r.Resign(ctxT(t), g, id); err != nil {
		t.Fatal(err)
	}
	grp := group(t, r, g)
	if b, _ := grp.Broker(id); b.Alive {
		t.Fatal("resigned broker still alive")
	}
	if grp.State.MasterEpoch != 1 {
		t.Fatalf("a slave's resignation changed the master: %+v", grp.State)
	}
}

func TestLongPoll(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	register(t, r, g, "a", 0)
	connected(t, 0, r)
	idx := group(t, r, g).Index

	t.Run("wakes on change", func(t *testing.T) {
		type result struct {
			grp service.Answer
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			grp, err := r.WaitGroup(ctxT(t), g, idx, 30*time.Second)
			done <- result{grp, err, time.Now()}
		}()
		time.Sleep(200 * time.Millisecond)
		changed := time.Now()
		register(t, r, g, "b", 0)
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.grp.Index <= idx || len(res.grp.Brokers) != 2 {
			t.Fatalf("woke with index %d (was %d) and %d brokers", res.grp.Index, idx, len(res.grp.Brokers))
		}
		if d := res.at.Sub(changed); d > time.Second {
			t.Fatalf("long poll woke %s after the change", d)
		}
	})
	t.Run("heartbeat data wakes no one", func(t *testing.T) {
		idx := group(t, r, g).Index
		start := time.Now()
		beating := make(chan error, 1)
		go func() {
			defer close(beating)
			for range 5 {
				if _, err := r.Heartbeat(ctxT(t), g, 1, service.Beat{Data: ledgerless.HeartbeatData{Epoch: 1, MaxOffset: time.Now().UnixNano()}}); err != nil {
					beating <- err
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		grp, err := r.WaitGroup(ctxT(t), g, idx, 700*time.Millisecond)
		if err := <-beating; err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if grp.Index != idx || time.Since(start) < 600*time.Millisecond {
			t.Fatalf("returned after %s with index %d (was %d)", time.Since(start), grp.Index, idx)
		}
	})
	t.Run("behind index answers at once", func(t *testing.T) {
		start := time.Now()
		grp, err := r.WaitGroup(ctxT(t), g, idx-1, 30*time.Second)
		if err != nil || grp.Index <= idx-1 || time.Since(start) > 5*time.Second {
			t.Fatalf("got %v %v after %s", grp, err, time.Since(start))
		}
	})
}

// TestLongPollsOfOneGroupFollowEveryChange has many long polls follow
// one group through several changes. The polls that a change wakes share
// one read, and the ones that keep waiting continue with the wake-up taken
// before that read: none may miss a change (it would answer only when its
// wait ran out, with an unchanged index) or answer before one.
func TestLongPollsOfOneGroupFollowEveryChange(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	register(t, r, g, "a", 0)
	idx := group(t, r, g).Index
	const polls, changes = 40, 3
	errs := make(chan error, polls)
	for range polls {
		go func() {
			for index, brokers := idx, 1; brokers < 1+changes; {
				grp, err := r.WaitGroup(ctxT(t), g, index, 20*time.Second)
				if err == nil && grp.Index <= index {
					err = fmt.Errorf("answered with index %d, waiting for one above %d", grp.Index, index)
				}
				if err != nil {
					errs <- err
					return
				}
				index, brokers = grp.Index, len(grp.Brokers)
			}
			errs <- nil
		}()
	}
	for i := range changes {
		eventually(t, 10*time.Second, func() bool { return r.Hub().Waiters() == polls })
		register(t, r, g, fmt.Sprintf("b%d", i), 0)
	}
	for range polls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLongPollsWokenByOneChangeShareOneEncoding has many long polls wait
// on one group through two changes: the polls that one change wakes get
// one Answer, whose encoding is made once for all of them, and the next
// change makes a new one.
func TestLongPollsWokenByOneChangeShareOneEncoding(t *testing.T) {
	r := startReplica(t, storetest.Prefix(t), "r1")
	g := key("g")
	register(t, r, g, "a", 0)
	idx := group(t, r, g).Index
	const polls = 20
	var encodings atomic.Int32
	encode := func(grp *ledgerless.Group) ([]byte, error) {
		encodings.Add(1)
		return fmt.Appendf(nil, "index %d, %d brokers", grp.Index, len(grp.Brokers)), nil
	}
	var last []byte
	for change := 1; change <= 2; change++ {
		type result struct {
			ans service.Answer
			err error
		}
		results := make(chan result, polls)
		for range polls {
			go func() {
				ans, err := r.WaitGroup(ctxT(t), g, idx, 20*time.Second)
				results <- result{ans, err}
			}()
		}
		// Every poll has read the group and waits for its next change.
		eventually(t, 10*time.Second, func() bool { return r.Hub().Waiting(g) == polls })
		register(t, r, g, fmt.Sprintf("b%d", change), 0)
		var first []byte
		for range polls {
			res := <-results
			if res.err != nil {
				t.Fatal(res.err)
			}
			ans := res.ans
			b, err := ans.Encoded(encode)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = b
			}
			if ans.Index <= idx || len(ans.Brokers) != 1+change || &b[0] != &first[0] {
				t.Fatalf("change %d: answered %q with index %d (was %d); first answer %q", change, b, ans.Index, idx, first)
			}
		}
		if n := encodings.Load(); n != int32(change) {
			t.Fatalf("%d encodings after %d changes, want one per change", n, change)
		}
		if bytes.Equal(first, last) {
			t.Fatalf("change %d answered with the previous encoding %q", change, last)
		}
		last, idx = first, group(t, r, g).Index
	}
}

func TestReplicasSeeTheSameState(t *testing.T) {
	prefix := storetest.Prefix(t)
	r1, r2 := startReplica(t, prefix, "r1"), startReplica(t, prefix, "r2")
	for i := range 5 {
		register(t, r1, key(fmt.Sprintf("g%d", i)), "a", 0)
	}
	id := register(t, r2, key("g0"), "b", 0)
	heartbeat(t, r1, key("g0"), id, ledgerless.HeartbeatData{Epoch: 1, MaxOffset: 42})
	a, b := group(t, r1, key("g0")), group(t, r2, key("g0"))
	if fmt.Sprint(a.State, a.Brokers) != fmt.Sprint(b.State, b.Brokers) {
		t.Fatalf("replicas disagree:\n%+v\n%+v", a, b)
	}
	cs, err := r2.Clusters(ctxT(t))
	if err != nil || len(cs) != 1 || len(cs[0].Groups) != 5 {
		t.Fatalf("clusters from r2: %+v %v", cs, err)
	}
}

// TestLivenessEndedButLeaseLeftRevivesOnNextHeartbeat: a broker's
// liveness ended by another replica (a resignation or a crash) whose
// revocation of the lease failed: this replica, which renews that lease
// for the broker's heartbeats, must not keep renewing it as if the broker
// were alive; its next heartbeat makes the broker alive again.
func TestLivenessEndedButLeaseLeftRevivesOnNextHeartbeat(t *testing.T) {
	prefix := storetest.Prefix(t)
	r1, r2 := startReplica(t, prefix, "r1"), startReplica(t, prefix, "r2")
	g := key("left-lease")
	register(t, r1, g, "m", time.Minute)
	id := register(t, r1, g, "s", time.Minute)
	heartbeat(t, r2, g, id, ledgerless.HeartbeatData{}) // r2 renews its lease from now on
	// What endLiveness commits, with no revocation after it.
	snap, err := r1.store.ReadGroup(ctxT(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.store.Txn(snap).EndAlive(id).Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		heartbeat(t, r2, g, id, ledgerless.HeartbeatData{})
		b, _ := group(t, r1, g).Broker(id)
		return b.Alive
	})
}
