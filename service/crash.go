package service

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/election"
)

// Crash detection: a broker whose process dies is deposed in
// milliseconds, not after its lease's TTL, and a broker that lives is
// never deposed for a connection that ended.
//
// The signal is the connection a broker keeps open to a replica: a
// RocketMQ broker's remoting connection, on which it registered or
// heartbeated, and a REST broker's long poll, which the SDK always keeps
// open and which names the broker (?broker=<id>). Each is tied to the
// broker with Hold. When the last one of a broker ends on the broker's
// side (its TCP connection closed, a long poll abandoned before its
// answer, or answered and not followed by the next poll within
// PollLinger) the broker is suspect, and the replica confirms at once:
//
//  1. the broker is still alive in etcd (else it resigned, expired or was
//     removed: nothing to do);
//  2. it has not reconnected to this replica meanwhile;
//  3. its advertised address has answered a TCP connect from this replica
//     before (learnt when it was held), so that a refusal means something;
//  4. a TCP connect to that address now is refused: the host is up and
//     nothing listens on the port, the process is gone. A connect that
//     is not refused is tried twice more, 25 ms apart: a process killed
//     a moment ago may still be closing its listener after its
//     connections closed, and accept or reset a connect. Answered: the
//     broker lives and is merely reconnecting. No answer (timeout,
//     unreachable): nothing is known.
//  5. its lease and heartbeat data are unchanged in etcd since the
//     suspicion began: no replica re-registered, revived it or recorded a
//     heartbeat in between.
//
// Confirmed, the broker's liveness ends in one transaction that compares
// its lease (the alive key's create revision) and heartbeat revision as
// first read, so a broker that re-registered or reported meanwhile is
// never touched; a master's successor is elected in the same transaction
// (history reason master-crashed), then the lease is revoked. Anything
// short of a confirmation changes nothing: the lease TTL remains the
// backstop. A replica that is draining raises no suspicions: it closes
// connections itself.
//
// Failure modes: a host that dies with its process (power, kernel panic)
// refuses nothing, its connect times out, and the TTL deposes it; so does
// a firewall that drops packets to the broker's port. A firewall that
// rejects with RST, or a port that the process stopped serving while it
// still runs, looks dead; a broker that restarts its process on the same
// address within the confirmation is deposed (it did crash). A lease
// renewal that records no heartbeat data (a REST heartbeat whose data did
// not move, within a third of the timeout) is not visible in etcd, so
// step 5 only sees renewals that carried data; steps 2 and 4 carry the
// rest.
type crashWatch struct {
	obs  CrashObserver
	ctx  context.Context // ends when the service stops
	stop context.CancelFunc

	mu        sync.Mutex
	stopped   bool                 // no more goroutines start
	holds     map[memberKey]int    // open connections (both protocols) of each broker, lingering polls included
	lingering map[memberKey]int    // answered long polls still held, waiting for the broker's next one
	gen       uint64               // counts every Hold
	seq       map[memberKey]uint64 // gen at the newest Hold of each held broker, to tell a new poll
	reachable map[memberKey]string // the address that answered a connect from this replica
	learning  map[memberKey]bool   // a probe of the broker's address is under way
	suspects  map[memberKey]bool   // a suspicion is being confirmed
	wg        sync.WaitGroup
}

// CrashObserver is told of crash suspicions; nil in Options: nobody.
type CrashObserver interface {
	// CrashSuspected counts a suspicion raised.
	CrashSuspected()
	// CrashSuspicionEnded counts a suspicion confirmed ("confirmed") or
	// dismissed ("dismissed", why says for what), d after it was raised.
	CrashSuspicionEnded(outcome, why string, d time.Duration)
}

// Outcomes of a crash suspicion, and the reasons for a dismissal.
const (
	CrashConfirmed = "confirmed"
	CrashDismissed = "dismissed"

	dismissedNotAlive    = "not-alive"   // resigned, expired or removed already
	dismissedReconnected = "reconnected" // a connection of the broker is open again
	dismissedUntrusted   = "untrusted"   // its address never answered this replica
	dismissedAnswered    = "answered"    // its address answered: the process lives
	dismissedUnreachable = "unreachable" // its address did not answer at all
	dismissedRenewed     = "renewed"     // re-registered, revived or reported since
	dismissedFailed      = "failed"      // etcd could not be read or written in time
)

// Bounds of a confirmation.
const (
	probeTimeout   = time.Second // a connect that takes longer is no answer
	probeAttempts  = 3           // connects of a confirmation, while one is not refused
	probeRetry     = 25 * time.Millisecond
	suspectTimeout = 5 * time.Second // the whole confirmation
	learnAttempts  = 6               // probes of a held broker's address until one answers
)

type noCrashObserver struct{}

func (noCrashObserver) CrashSuspected()                                   {}
func (noCrashObserver) CrashSuspicionEnded(string, string, time.Duration) {}

func newCrashWatch(obs CrashObserver) *crashWatch {
	if obs == nil {
		obs = noCrashObserver{}
	}
	ctx, stop := context.WithCancel(context.Background())
	return &crashWatch{obs: obs, ctx: ctx, stop: stop, holds: map[memberKey]int{}, lingering: map[memberKey]int{}, seq: map[memberKey]uint64{}, reachable: map[memberKey]string{},
		learning: map[memberKey]bool{}, suspects: map[memberKey]bool{}}
}

// close stops the watch's work and waits for its goroutines.
func (c *crashWatch) close() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
}

// ConnEnd says how a connection that Hold tied to a broker ended.
type ConnEnd int

const (
	// EndClosed: this replica ended it (shutting down): no signal.
	EndClosed ConnEnd = iota
	// EndLost: it ended on the broker's side without a clean close (a TCP
	// connection closed by the peer or reset, a long poll abandoned
	// before its answer).
	EndLost
	// EndAnswered: a long poll was answered. The broker polls again at
	// once; the poll is held on for PollLinger, and a broker that has not
	// polled again by then is treated as EndLost: so a process that dies
	// between two polls is caught too.
	EndAnswered
)

// PollLinger is how long an answered long poll still holds its broker,
// waiting for the next one (see EndAnswered).
const PollLinger = 100 * time.Millisecond

// Hold ties an open connection of broker id of group g to this replica,
// as the signal of its crash (see crashWatch), and returns release, which
// the front end calls once when the connection ends, saying how. The
// last connection of an alive broker ending as EndLost makes it suspect.
func (s *Service) Hold(g ledgerless.GroupKey, id int64) (release func(ConnEnd)) {
	k := memberKey{g, id}
	c := s.crash
	c.mu.Lock()
	// A new connection of the broker ends the holds of its answered polls
	// at once: from now on this one carries the signal, so that losing it
	// is a suspicion even within PollLinger of the last answer.
	c.holds[k] += 1 - c.lingering[k]
	delete(c.lingering, k)
	c.gen++
	c.seq[k] = c.gen
	learn := c.reachable[k] == "" && !c.learning[k] && !c.stopped
	if learn {
		c.learning[k] = true
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if learn {
		go func() { defer c.wg.Done(); s.learn(k) }()
	}
	var once sync.Once
	return func(how ConnEnd) {
		once.Do(func() {
			at := s.now()
			if how != EndAnswered {
				s.unhold(k, how == EndLost, at)
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.stopped {
				c.unholdLocked(k)
				return
			}
			seq := c.seq[k]
			c.lingering[k]++
			c.wg.Add(1)
			time.AfterFunc(PollLinger, func() {
				defer c.wg.Done()
				c.mu.Lock()
				again := c.seq[k] != seq // the broker polled again: that Hold ended this one
				if !again {
					c.lingering[k]--
					if c.lingering[k] == 0 {
						delete(c.lingering, k)
					}
				}
				c.mu.Unlock()
				if !again {
					s.unhold(k, true, at)
				}
			})
		})
	}
}

// unhold ends one hold of broker k, which makes it suspect when it was
// the last one and lost, as of at.
func (s *Service) unhold(k memberKey, lost bool, at time.Time) {
	c := s.crash
	c.mu.Lock()
	last := c.unholdLocked(k)
	suspect := last && lost && !c.suspects[k] && !c.stopped && !s.isDraining()
	if suspect {
		c.suspects[k] = true
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if suspect {
		c.obs.CrashSuspected()
		go func() { defer c.wg.Done(); s.suspect(k, at) }()
	}
}

// unholdLocked drops one hold of k and reports whether it was the last.
func (c *crashWatch) unholdLocked(k memberKey) bool {
	c.holds[k]--
	if c.holds[k] > 0 {
		return false
	}
	delete(c.holds, k)
	delete(c.seq, k)
	return true
}

// Held is the number of open connections of broker id of group g to this
// replica that Hold ties to it, of both protocols.
func (s *Service) Held(g ledgerless.GroupKey, id int64) int {
	return s.crash.held(memberKey{g, id})
}

// Armed reports whether this replica would confirm a crash of broker id
// of group g now: it holds a connection of the broker, and the broker's
// address answered a connect from this replica.
func (s *Service) Armed(g ledgerless.GroupKey, id int64) bool {
	c := s.crash
	k := memberKey{g, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holds[k] > 0 && c.reachable[k] != ""
}

func (c *crashWatch) held(k memberKey) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holds[k]
}

func (s *Service) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

// learn probes the address of held broker k until it answers once, while
// the broker is held, so that a later refusal can be trusted. A broker
// not registered yet, or whose port does not answer yet, is tried again
// with backoff, a few times.
func (s *Service) learn(k memberKey) {
	c := s.crash
	defer func() {
		c.mu.Lock()
		delete(c.learning, k)
		c.mu.Unlock()
	}()
	wait := 250 * time.Millisecond
	for attempt := 0; attempt < learnAttempts && c.held(k) > 0 && !s.isDraining(); attempt++ {
		if attempt > 0 {
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(wait):
			}
			wait *= 2
		}
		ctx, cancel := context.WithTimeout(c.ctx, suspectTimeout)
		m, _, err := s.store.ReadMember(ctx, k.group, k.id)
		if err == nil && probeAnswers(ctx, m.Broker.Address) {
			cancel()
			c.mu.Lock()
			c.reachable[k] = m.Broker.Address
			c.mu.Unlock()
			return
		}
		cancel()
	}
}

// suspect confirms or dismisses the suspicion that broker k crashed, its
// last connection having ended at at, and reports the outcome.
func (s *Service) suspect(k memberKey, at time.Time) {
	c := s.crash
	defer func() {
		c.mu.Lock()
		delete(c.suspects, k)
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(c.ctx, suspectTimeout)
	defer cancel()
	why, detail, err := s.confirmCrash(ctx, k, at)
	d := s.now().Sub(at)
	switch {
	case err != nil:
		c.obs.CrashSuspicionEnded(CrashDismissed, dismissedFailed, d)
		s.log.Warn("crash suspicion: could not confirm; the lease TTL applies", "group", k.group.String(), "broker", k.id, "err", err)
	case why != "":
		c.obs.CrashSuspicionEnded(CrashDismissed, why, d)
		args := []any{"group", k.group.String(), "broker", k.id, "why", why, "after", d}
		if detail != nil {
			args = append(args, "probe", detail.Error())
		}
		s.log.Info("crash suspicion dismissed", args...)
	default:
		c.obs.CrashSuspicionEnded(CrashConfirmed, "", d)
		s.log.Warn("broker crashed: its connection closed and its address refuses connections; lease ended",
			"group", k.group.String(), "broker", k.id, "after", d)
	}
}

// confirmCrash runs the confirmation of crashWatch's rule and, when it
// holds, ends the broker's lease. It returns why the suspicion was
// dismissed, "" when it was confirmed, and what a probe that found no
// answer met.
func (s *Service) confirmCrash(ctx context.Context, k memberKey, at time.Time) (why string, detail, err error) {
	if s.crash.held(k) > 0 { // a poll that came late, at no cost to etcd
		return dismissedReconnected, nil, nil
	}
	first, err := s.store.ReadGroup(ctx, k.group)
	if err != nil {
		return "", nil, err
	}
	b, ok := first.Group.Broker(k.id)
	switch {
	case !ok || !b.Alive:
		return dismissedNotAlive, nil, nil
	case s.crash.held(k) > 0:
		return dismissedReconnected, nil, nil
	case !s.crash.trusted(k, b.Address):
		return dismissedUntrusted, nil, nil
	}
	switch res, detail := probeSettled(ctx, b.Address, func() bool { return s.crash.held(k) > 0 }); res {
	case probeAnswered:
		return dismissedAnswered, nil, nil
	case probeUnknown:
		return dismissedUnreachable, detail, nil
	}
	snap := first
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if snap, err = s.store.ReadGroup(ctx, k.group); err != nil {
				return "", nil, err
			}
		}
		if snap.Renewed(k.id, first) {
			return dismissedRenewed, nil, nil
		}
		if s.crash.held(k) > 0 {
			return dismissedReconnected, nil, nil
		}
		err := s.endLiveness(ctx, snap, k.id, election.Crashed, at)
		if isConflict(err) {
			continue
		}
		if err == nil {
			s.forget(k.group, k.id)
		}
		return "", nil, err
	}
	return "", nil, conflict("end crashed broker's lease")
}

// trusted reports whether addr answered a connect from this replica since
// broker k was held; a broker whose address changed is learnt again.
func (c *crashWatch) trusted(k memberKey, addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reachable[k] != addr {
		delete(c.reachable, k)
		return false
	}
	return true
}

// probeResult is what a TCP connect to a broker's address found.
type probeResult int

const (
	probeUnknown  probeResult = iota // no answer in time, or no route
	probeAnswered                    // something accepted the connection
	probeRefused                     // the host refused: nothing listens on the port
)

// probeAnswers reports whether a connect to addr is answered.
func probeAnswers(ctx context.Context, addr string) bool {
	res, _ := probe(ctx, addr)
	return res == probeAnswered
}

// probeSettled probes addr, again a few times at short intervals while
// the answer is not a refusal and came fast: a process killed a moment
// ago may still be closing its listener (which then accepts, or resets
// the connect) after its connections closed. It returns the last result,
// with what the last unknown one met. A broker that reconnects meanwhile
// ends the probing (reconnected says so).
func probeSettled(ctx context.Context, addr string, reconnected func() bool) (probeResult, error) {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, err := probe(ctx, addr)
		if res == probeRefused || attempt == probeAttempts || time.Since(start) >= probeTimeout || reconnected() {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(probeRetry):
		}
	}
}

// probe connects to addr and closes the connection at once; it returns
// the connect's error when the result is probeUnknown.
func probe(ctx context.Context, addr string) (probeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	switch {
	case err == nil:
		_ = conn.Close()
		return probeAnswered, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return probeRefused, nil
	}
	return probeUnknown, err
}
