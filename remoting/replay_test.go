package remoting

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// The replay tests send every request that brokers, mqadmin and a probe
// sent to a stock RocketMQ 5.3.3 controller (testdata/frames.jsonl) to a
// ledgerless replica, in capture order, and compare each answer with the
// stock controller's: response code, extFields and body.
//
// What is allowed to differ, and why:
//   - 1005 names this replica: controllerLeaderId, controllerLeaderAddress,
//     peers and group are ledgerless's, not DLedger's.
//   - 1010's body is ledgerless's settings, not a stock ControllerConfig.
//   - remarks are ledgerless's own sentences (the codes are RocketMQ's).
//   - the two SYSTEM_BUSY answers of the stock controller's shutdown
//     (scenario 4b) are not reproduced: a replica that is stopping hands
//     brokers to the others.
//
// Time is compressed: heartbeats ask for a 2 s lease instead of 10 s, and
// where a broker process was killed (kill -9, see testdata's README) the
// replay closes its connections and waits for its lease to expire, while
// the other brokers' heartbeats go on. Broker ids and addresses are the
// recorded ones: ledgerless assigns the same ids in the same order.

// killed lists the kills (kill -9) of the recording: after the frame of
// the key, the broker was dead. A master's kill is placed at the last frame
// before the stock controller's NOTIFY of its successor, about 0.1 s
// after the kill (seq 91, 778, 891); broker-n2 was no master, and died
// after its last frame.
var killed = map[int]string{90: "broker-n0", 373: "broker-n2", 777: "broker-n0", 890: "broker-n1"}

type replayer struct {
	t       *testing.T
	c       *controller
	frames  map[int]recorded // by seq
	answers map[int]recorded // by the seq of the request they answer
	clients map[string]*Client
	owner   map[string]string   // recorded conn → the process that opened it
	beats   map[string]*Command // each live broker's last heartbeat
	group   ledgerless.GroupKey
	checked int
}

func newReplayer(t *testing.T, c *controller, frames []recorded) *replayer {
	p := &replayer{t: t, c: c, frames: map[int]recorded{}, answers: map[int]recorded{}, clients: map[string]*Client{},
		owner: map[string]string{}, beats: map[string]*Command{}, group: ledgerless.GroupKey{Cluster: "DefaultCluster", Group: "broker-a"}}
	for _, f := range frames {
		p.frames[f.Seq] = f
		if f.Kind == "response" {
			p.answers[f.ReplyTo] = f
		}
	}
	return p
}

func (p *replayer) client(f recorded) *Client {
	c, ok := p.clients[f.Conn]
	if !ok {
		c = dial(p.t, p.c.addr)
		p.clients[f.Conn] = c
		p.owner[f.Conn] = f.From
	}
	c.Serialize = JSON
	if f.Serialize == "ROCKETMQ" {
		c.Serialize = RocketMQ
	}
	return c
}

// play replays frames in order.
func (p *replayer) play(frames []recorded) {
	t := p.t
	for _, f := range frames {
		if f.To != "controller" || f.Kind == "response" {
			continue
		}
		req, err := Decode(f.frame)
		if err != nil {
			t.Fatalf("seq %d: %v", f.Seq, err)
		}
		if req.Code == BrokerHeartbeat {
			if _, ok := req.Ext.Get("heartbeatTimeoutMills"); ok {
				req.Ext.Set("heartbeatTimeoutMills", "2000")
			}
			if _, ok := req.Ext.Get("brokerId"); ok {
				p.beats[f.From] = req
			}
		}
		want, answered := p.answers[f.Seq]
		if answered && (req.Code == GetReplicaInfo || req.Code == RegisterBroker) {
			p.waitForEpoch(want)
		}
		c := p.client(f)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if req.IsOneway() {
			if err := c.Oneway(ctx, req); err != nil {
				t.Fatalf("seq %d: %v", f.Seq, err)
			}
			// A barrier: the connection's requests are served in order.
			if _, err := c.Invoke(ctx, Request(GetMetadataInfo, nil, nil)); err != nil {
				t.Fatalf("seq %d barrier: %v", f.Seq, err)
			}
		} else {
			got, err := c.Invoke(ctx, req)
			if err != nil {
				t.Fatalf("seq %d %s: %v", f.Seq, f.Name, err)
			}
			if answered {
				p.compare(f, want, got)
			}
		}
		cancel()
		if broker, ok := killed[f.Seq]; ok {
			p.kill(broker)
		}
	}
}

// waitForEpoch waits, keeping the live brokers alive, until the group has
// reached the masterEpoch of a recorded answer: the stock controller's
// elections after a broker died happened in the time between two frames.
func (p *replayer) waitForEpoch(want recorded) {
	w, err := Decode(want.frame)
	if err != nil {
		p.t.Fatal(err)
	}
	epoch, ok := w.Ext.Int64("masterEpoch")
	if !ok {
		return
	}
	p.keepAliveUntil(fmt.Sprintf("masterEpoch %d (seq %d)", epoch, want.Seq), func(g *ledgerless.Group) bool {
		return g.State.MasterEpoch >= epoch
	})
}

// kill closes a broker's connections and waits until its lease expired
// and the election, if it was master, is done.
func (p *replayer) kill(broker string) {
	for conn, c := range p.clients {
		if p.owner[conn] == broker {
			_ = c.Close()
			delete(p.clients, conn)
		}
	}
	beat := p.beats[broker]
	delete(p.beats, broker)
	id, _ := beat.Ext.Int64("brokerId")
	p.keepAliveUntil(broker+" dead", func(g *ledgerless.Group) bool {
		b, ok := g.Broker(id)
		return ok && !b.Alive && g.State.MasterBrokerID != id
	})
}

func (p *replayer) keepAliveUntil(what string, cond func(*ledgerless.Group) bool) {
	deadline := time.Now().Add(20 * time.Second)
	next := time.Now()
	for {
		if g := groupOf(p.t, p.c.svc, p.group); g != nil && cond(g) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 20 s for %s", what)
		}
		if time.Now().After(next) {
			for broker, beat := range p.beats {
				c := p.beatClient(broker)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = c.Oneway(ctx, beat)
				cancel()
			}
			next = time.Now().Add(300 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *replayer) beatClient(broker string) *Client {
	for conn, c := range p.clients {
		if p.owner[conn] == broker {
			return c
		}
	}
	c := dial(p.t, p.c.addr)
	p.clients["synthetic/"+broker] = c
	p.owner["synthetic/"+broker] = broker
	return c
}

var variesPerController = map[string]bool{"controllerLeaderId": true, "controllerLeaderAddress": true, "peers": true, "group": true}

func (p *replayer) compare(req, want recorded, got *Command) {
	t := p.t
	w, err := Decode(want.frame)
	if err != nil {
		t.Fatal(err)
	}
	if w.Code == SystemBusy {
		return // the stock controller was shutting down
	}
	p.checked++
	where := fmt.Sprintf("seq %d %s (%s)", req.Seq, req.Name, req.Scenario)
	if got.Code != w.Code {
		t.Errorf("%s: code %s (%q), stock %s", where, ResponseName(got.Code), got.Remark, ResponseName(w.Code))
		return
	}
	if got.Opaque != req.Opaque && got.Opaque == 0 {
		t.Errorf("%s: opaque not echoed", where)
	}
	if got.Flag&FlagResponse == 0 {
		t.Errorf("%s: no response flag", where)
	}
	if (w.Ext == nil) != (got.Ext == nil) || len(w.Ext) != len(got.Ext) {
		t.Errorf("%s: extFields %v, stock %v", where, got.Ext, w.Ext)
	} else {
		for _, kv := range w.Ext {
			v, ok := got.Ext.Get(kv.Key)
			if !ok || (v != kv.Value && !variesPerController[kv.Key]) {
				t.Errorf("%s: extFields %s=%q, stock %q", where, kv.Key, v, kv.Value)
			}
		}
	}
	if req.Code == GetControllerConfig {
		if _, err := ParseProperties(got.Body); err != nil || len(got.Body) == 0 {
			t.Errorf("%s: body %q is not properties text", where, got.Body)
		}
		return
	}
	if (w.Body == nil) != (got.Body == nil) {
		t.Errorf("%s: body %q, stock %q", where, got.Body, w.Body)
		return
	}
	if w.Body != nil && !sameJSON(t, w.Body, got.Body) {
		t.Errorf("%s: body\n%s\nstock\n%s", where, got.Body, w.Body)
	}
}

// sameJSON compares two fastjson bodies as values, with sets (arrays of
// numbers, lists of replicas) in any order.
func sameJSON(t *testing.T, a, b []byte) bool {
	var va, vb any
	if err := json.Unmarshal(Lenient(a), &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(Lenient(b), &vb); err != nil {
		t.Errorf("%s: %v", b, err)
		return false
	}
	return reflect.DeepEqual(normalise(va), normalise(vb))
}

func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		slices.SortFunc(x, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	return v
}

func runFrames(frames []recorded, run string) []recorded {
	var out []recorded
	for _, f := range frames {
		if strings.HasPrefix(f.Conn, run+"/") {
			out = append(out, f)
		}
	}
	return out
}

// TestReplayRunA replays run A: the first start of two brokers, the
// master's failover, mqadmin's commands, a third broker's life and death,
// and the probe's error cases, all JSON.
func TestReplayRunA(t *testing.T) {
	frames := runFrames(loadFrames(t), "runA")
	c := startController(t, storetest.Prefix(t), "r1")
	p := newReplayer(t, c, frames)
	p.play(frames)
	t.Logf("%d answers compared", p.checked)
	if p.checked < 150 {
		t.Errorf("only %d answers compared", p.checked)
	}
}

// TestReplayRunB replays run B, where one broker and one mqadmin call use
// ROCKETMQ binary headers, with two failovers.
func TestReplayRunB(t *testing.T) {
	frames := runFrames(loadFrames(t), "runB")
	c := startController(t, storetest.Prefix(t), "r1")
	p := newReplayer(t, c, frames)
	p.play(frames)
	t.Logf("%d answers compared", p.checked)
	if p.checked < 40 {
		t.Errorf("only %d answers compared", p.checked)
	}
}
