package service_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/internal/crashtest"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// brokerPort is a broker's listening port: a live process.
type brokerPort struct {
	ln    net.Listener
	dying atomic.Bool // the next connection accepted is the last
}

func listenBroker(t *testing.T) *brokerPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	p := &brokerPort{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
			if p.dying.Load() {
				_ = ln.Close()
			}
		}
	}()
	return p
}

func (p *brokerPort) addr() string { return p.ln.Addr().String() }

// die closes the port, as the kernel does when the process dies: connects
// are refused from then on.
func (p *brokerPort) die() { _ = p.ln.Close() }

// crashReplicas starts n replicas on one prefix; the first one reports
// its crash suspicions to the returned recorder.
func crashReplicas(t *testing.T, n int) ([]*replica, *crashtest.Recorder) {
	t.Helper()
	prefix := storetest.Prefix(t)
	obs := &crashtest.Recorder{}
	rs := []*replica{startReplicaWith(t, prefix, service.Options{ReplicaID: "r1", Reconcile: 200 * time.Millisecond, Crashes: obs})}
	for i := 2; i <= n; i++ {
		rs = append(rs, startReplica(t, prefix, "r"+string(rune('0'+i))))
	}
	return rs, obs
}

// crashPair registers master 1 and in-sync slave 2 of g at the given
// addresses with a 60 s heartbeat timeout, far beyond any test: an
// election is never the lease's expiry.
func crashPair(t *testing.T, r *replica, g ledgerless.GroupKey, master, slave string) {
	t.Helper()
	for _, b := range []struct{ code, addr string }{{"m", master}, {"s", slave}} {
		if _, _, err := r.Register(ctxT(t), g, service.Registration{Address: b.addr, RegisterCode: b.code, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	inSync(t, r, g, 1, 2)
}

// hold ties a connection of broker id to r and waits until r would trust
// a refusal of the broker's address.
func hold(t *testing.T, r *replica, g ledgerless.GroupKey, id int64) func(service.ConnEnd) {
	t.Helper()
	release := r.Hold(g, id)
	eventually(t, 10*time.Second, func() bool { return r.Armed(g, id) })
	return release
}

// TestCrashedMasterFailsOverAtOnce: the master's last connection closes
// and its port refuses connects: its lease ends and the slave is elected
// at once, once, with reason master-crashed, whichever replica sees the
// lease go.
func TestCrashedMasterFailsOverAtOnce(t *testing.T) {
	rs, obs := crashReplicas(t, 3)
	g := key("g")
	m, s := listenBroker(t), listenBroker(t)
	crashPair(t, rs[0], g, m.addr(), s.addr())
	release := hold(t, rs[0], g, 1)
	m.die()
	release(service.EndLost)
	if got := obs.Outcomes(t, 1); got[0] != service.CrashConfirmed {
		t.Fatalf("suspicion %v, want confirmed", got)
	}
	time.Sleep(500 * time.Millisecond) // let every replica's watch and reconcile see the lease go
	assertOneFailover(t, rs[2], g, ledgerless.ReasonCrashed)
	if b, _ := group(t, rs[1], g).Broker(1); b.Alive {
		t.Error("the crashed master is still alive")
	}
}

// TestCrashedSlaveLeaseEnds: a slave that crashed is no longer alive;
// the master keeps its role and no election is recorded.
func TestCrashedSlaveLeaseEnds(t *testing.T) {
	rs, obs := crashReplicas(t, 1)
	g := key("g")
	m, s := listenBroker(t), listenBroker(t)
	crashPair(t, rs[0], g, m.addr(), s.addr())
	release := hold(t, rs[0], g, 2)
	s.die()
	release(service.EndLost)
	if got := obs.Outcomes(t, 1); got[0] != service.CrashConfirmed {
		t.Fatalf("suspicion %v, want confirmed", got)
	}
	grp := group(t, rs[0], g)
	if b, _ := grp.Broker(2); b.Alive {
		t.Error("the crashed slave is still alive")
	}
	if grp.State.MasterBrokerID != 1 || grp.State.MasterEpoch != 1 || len(history(t, rs[0], g)) != 1 {
		t.Errorf("the master's role changed: %+v", grp.State)
	}
}

// TestNoFalseDeposal: every way a live broker's connection ends leaves
// its role alone.
func TestNoFalseDeposal(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run ends the master's connections in some way that is not a
		// crash; it returns how many suspicions that must raise, and
		// the dismissal each one must end in.
		run func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string)
	}{
		{"connection closed, process alive", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			hold(t, r, g, 1)(service.EndLost)
			return 1, "dismissed:answered"
		}},
		{"one of two connections closed", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			first, second := hold(t, r, g, 1), r.Hold(g, 1)
			m.die() // even with the port gone: another connection is open
			first(service.EndLost)
			second(service.EndClosed) // the other one ends on the replica's side
			return 0, ""
		}},
		{"closed by the replica", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			release := hold(t, r, g, 1)
			m.die()
			release(service.EndClosed)
			return 0, ""
		}},
		{"answered long poll, then the next one", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			release := hold(t, r, g, 1)
			m.die() // even so: the broker polls again
			release(service.EndAnswered)
			r.Hold(g, 1)
			eventually(t, 10*time.Second, func() bool { return r.Held(g, 1) == 1 }) // the answered one let go
			return 0, ""
		}},
		{"address never answered", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			m.die()
			r.Hold(g, 1)(service.EndLost)
			return 1, "dismissed:untrusted"
		}},
		{"replica draining", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			release := hold(t, r, g, 1)
			m.die()
			r.Drain()
			release(service.EndLost)
			return 0, ""
		}},
		{"resigned before its connection closed", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) (int, string) {
			release := hold(t, r, g, 1)
			if err := r.Resign(ctxT(t), g, 1); err != nil {
				t.Fatal(err)
			}
			m.die()
			release(service.EndLost)
			return 1, "dismissed:not-alive"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, obs := crashReplicas(t, 1)
			g := key("g")
			m, s := listenBroker(t), listenBroker(t)
			crashPair(t, rs[0], g, m.addr(), s.addr())
			n, want := tc.run(t, rs[0], g, m)
			if got := obs.Suspicions(); got != n {
				t.Fatalf("%d suspicions raised, want %d", got, n)
			}
			if n > 0 {
				if got := obs.Outcomes(t, n); got[n-1] != want {
					t.Fatalf("suspicion ended %v, want %s", got, want)
				}
			}
			st := group(t, rs[0], g).State
			resigned := tc.name == "resigned before its connection closed"
			if h := history(t, rs[0], g); !resigned && (st.MasterBrokerID != 1 || len(h) != 1) {
				t.Errorf("role change: state %+v, history %+v", st, h)
			}
			if h := history(t, rs[0], g); resigned && h[0].Reason != ledgerless.ReasonResigned {
				t.Errorf("history %+v, want the resignation only", h)
			}
		})
	}
}

// TestMasterCrashMoments: however the master's process dies relative to
// its polls and its listener, the crash is confirmed and the master fails
// over once, with reason master-crashed.
func TestMasterCrashMoments(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crash ends the master's connection of r as its death does.
		crash func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort)
	}{
		// The answered poll is not followed by another: after
		// PollLinger it counts as abandoned.
		{"between two polls", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) {
			release := hold(t, r, g, 1)
			m.die()
			release(service.EndAnswered)
		}},
		// It polled again at once after an answer and died while the
		// answered poll still lingered: the new poll's loss counts.
		{"right after an answer", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) {
			hold(t, r, g, 1)(service.EndAnswered)
			next := r.Hold(g, 1)
			m.die()
			next(service.EndLost)
		}},
		// Its dying process still accepts one more connect on its port:
		// the probe after it is refused.
		{"while its listener closes", func(t *testing.T, r *replica, g ledgerless.GroupKey, m *brokerPort) {
			release := hold(t, r, g, 1)
			m.dying.Store(true)
			release(service.EndLost)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, obs := crashReplicas(t, 1)
			g := key("g")
			m, s := listenBroker(t), listenBroker(t)
			crashPair(t, rs[0], g, m.addr(), s.addr())
			tc.crash(t, rs[0], g, m)
			if got := obs.Outcomes(t, 1); got[0] != service.CrashConfirmed {
				t.Fatalf("suspicion %v, want confirmed", got)
			}
			assertOneFailover(t, rs[0], g, ledgerless.ReasonCrashed)
		})
	}
}
