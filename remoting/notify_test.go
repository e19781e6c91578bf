package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestNotifyNewerEpochReplacesPending: while a push to a broker is under
// way, a newer one replaces any older push still waiting, and the
// connection is kept for the next push.
func TestNotifyNewerEpochReplacesPending(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *Command, 16)
	go acceptNotify(ln, got)
	release := make(chan struct{})
	dials := 0
	n := &Notifier{log: slog.New(slog.DiscardHandler), pending: map[string]*Command{}, busy: map[string]bool{},
		clients: map[string]*Client{}, ctx: context.Background()}
	n.dial = func(ctx context.Context, addr string) (*Client, error) {
		dials++
		<-release
		return Dial(ctx, addr)
	}
	push := func(epoch int) *Command {
		return Request(NotifyBrokerRoleChanged, Fields{{"masterEpoch", fmt.Sprint(epoch)}}, []byte(`{"syncStateSet":[1],"syncStateSetEpoch":1}`))
	}
	addr := ln.Addr().String()
	n.queue(addr, push(2))
	time.Sleep(50 * time.Millisecond) // the sender took epoch 2 and waits in dial
	n.queue(addr, push(3))
	n.queue(addr, push(4))
	n.queue(addr, push(1)) // older than the one waiting: dropped
	close(release)
	var epochs []int64
	for len(epochs) < 2 {
		select {
		case c := <-got:
			epochs = append(epochs, epochOf(c))
		case <-time.After(5 * time.Second):
			t.Fatalf("received %v", epochs)
		}
	}
	n.wg.Wait()
	select {
	case c := <-got:
		epochs = append(epochs, epochOf(c))
	case <-time.After(200 * time.Millisecond):
	}
	if fmt.Sprint(epochs) != "[2 4]" {
		t.Errorf("pushed epochs %v, want [2 4]", epochs)
	}
	n.queue(addr, push(5))
	n.wg.Wait()
	if c := <-got; epochOf(c) != 5 || dials != 1 {
		t.Errorf("push of epoch %d after %d dials: the connection was not reused", epochOf(c), dials)
	}
	for _, c := range n.clients {
		_ = c.Close()
	}
}
