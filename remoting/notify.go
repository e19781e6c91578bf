package remoting

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
)

// Notifier pushes NOTIFY_BROKER_ROLE_CHANGED (1008) to a group's stock
// brokers after every election this replica commits, as a stock
// controller does: oneway, over a connection it opens to each broker's
// registered address, kept and reused for the next push. The brokers told
// are the alive ones that heartbeat to this replica (REST brokers speak
// no remoting). Per address only the newest push waits: a newer
// masterEpoch replaces an older one not yet sent.
type Notifier struct {
	svc  *service.Service
	log  *slog.Logger
	dial func(ctx context.Context, addr string) (*Client, error)

	mu      sync.Mutex
	pending map[string]*Command // by broker address
	busy    map[string]bool     // a sender runs for the address
	clients map[string]*Client
	events  chan electionEvent
	ctx     context.Context
	wg      sync.WaitGroup
}

type electionEvent struct {
	g ledgerless.GroupKey
	h ledgerless.HistoryEntry
}

// NewNotifier returns a Notifier; Run sends its pushes.
func NewNotifier(svc *service.Service, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{svc: svc, log: log, dial: Dial, pending: map[string]*Command{}, busy: map[string]bool{},
		clients: map[string]*Client{}, events: make(chan electionEvent, 1024)}
}

// Elected queues the pushes of an election; service calls it (see
// service.OnElection). It never blocks: when the queue is full the push is
// dropped, and brokers learn the change from their next 1004 poll.
func (n *Notifier) Elected(g ledgerless.GroupKey, h ledgerless.HistoryEntry) {
	if h.NewMasterBrokerID == 0 {
		return // stock controllers push only the election of a master
	}
	select {
	case n.events <- electionEvent{g, h}:
	default:
		n.log.Warn("notify queue full; brokers will learn of the election by polling", "group", g.String(), "masterEpoch", h.MasterEpoch)
	}
}

// Run sends pushes until ctx ends, then closes its connections.
func (n *Notifier) Run(ctx context.Context) error {
	n.mu.Lock()
	n.ctx = ctx
	n.mu.Unlock()
	defer func() {
		n.wg.Wait()
		n.mu.Lock()
		defer n.mu.Unlock()
		for addr, c := range n.clients {
			_ = c.Close()
			delete(n.clients, addr)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-n.events:
			n.prepare(ctx, e)
		}
	}
}

// prepare reads the group as it is after the election and queues a push
// to each of its alive stock brokers.
func (n *Notifier) prepare(ctx context.Context, e electionEvent) {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	grp, err := n.svc.Group(rctx, e.g)
	if err != nil {
		n.log.Warn("notify: read group", "group", e.g.String(), "err", err)
		return
	}
	st := grp.State
	if st.MasterEpoch != e.h.MasterEpoch || st.MasterBrokerID == 0 {
		return // a newer change followed; it is pushed by whoever made it
	}
	body := syncStateSetBody(st)
	for _, b := range grp.Brokers {
		if !b.Alive || n.svc.Connections(e.g, b.ID) == 0 {
			continue
		}
		ext := Fields{}
		ext.Set("masterAddress", st.MasterAddress)
		ext.SetInt64("masterBrokerId", st.MasterBrokerID)
		ext.SetInt64("syncStateSetEpoch", st.SyncStateSetEpoch)
		ext.SetInt64("masterEpoch", st.MasterEpoch)
		n.queue(b.Address, Request(NotifyBrokerRoleChanged, ext, body))
	}
}

func epochOf(c *Command) int64 {
	e, _ := c.Ext.Int64("masterEpoch")
	return e
}

func (n *Notifier) queue(addr string, push *Command) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.pending[addr]; ok && epochOf(old) >= epochOf(push) {
		return
	}
	n.pending[addr] = push
	if n.busy[addr] {
		return
	}
	n.busy[addr] = true
	n.wg.Add(1)
	go n.send(addr)
}

// send delivers the pending pushes of addr, newest only, until none is
// left.
func (n *Notifier) send(addr string) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		push, ok := n.pending[addr]
		delete(n.pending, addr)
		if !ok {
			n.busy[addr] = false
			n.mu.Unlock()
			return
		}
		ctx, c := n.ctx, n.clients[addr]
		n.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := n.deliver(sctx, addr, c, push)
		cancel()
		if err != nil {
			n.log.Info("notify: broker not reached; it learns of the election by polling", "broker", addr,
				"masterEpoch", epochOf(push), "err", err)
		}
	}
}

func (n *Notifier) deliver(ctx context.Context, addr string, c *Client, push *Command) error {
	if c == nil || c.Err() != nil {
		if c != nil {
			_ = c.Close()
		}
		var err error
		if c, err = n.dial(ctx, addr); err != nil {
			return err
		}
		n.mu.Lock()
		n.clients[addr] = c
		n.mu.Unlock()
	}
	return c.Oneway(ctx, push)
}
