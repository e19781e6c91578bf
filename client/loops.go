package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/tracing"
)

// Retry delays. Heartbeats retry within one interval, so that a broker
// reaches a controller replica that comes back well within its heartbeat
// timeout.
const (
	minRetry     = 100 * time.Millisecond
	maxRetry     = 2 * time.Second
	pollOverhead = 10 * time.Second // a long poll's bound beyond its wait
	// minPollInterval spaces out polls that come back at once without a
	// change, as from a replica that is shutting down.
	minPollInterval = time.Second
)

// errResigned ends the heartbeats after Resign.
var errResigned = errors.New("resigned")

// register registers the broker with its identity, retrying until a
// controller answers, and persists the identity the controller confirmed.
func (b *Broker) register(ctx context.Context) error {
	path := b.opts.IdentityFile
	id := identity{Cluster: b.opts.Cluster, Group: b.opts.Group}
	if path != "" {
		var found bool
		var err error
		if id, found, err = readIdentity(path, b.opts.Cluster, b.opts.Group); err != nil {
			return err
		}
		if !found {
			// The code is kept before the controller sees it: a crash
			// before the answer is persisted registers with the same
			// code again, and gets the same brokerId.
			id = identity{Cluster: b.opts.Cluster, Group: b.opts.Group, RegisterCode: newRegisterCode()}
			if err := writeIdentity(path, id); err != nil {
				return err
			}
		}
	} else {
		id.RegisterCode = newRegisterCode()
	}
	req := registerRequest{Address: b.opts.Address, RegisterCode: id.RegisterCode, BrokerID: id.BrokerID,
		HeartbeatTimeoutMs: b.opts.HeartbeatTimeout.Milliseconds()}
	retry := backoff{base: minRetry, max: maxRetry}
	for {
		sent := time.Now()
		var resp registerResponse
		sctx, span := b.span(ctx, "broker.register", id.BrokerID)
		_, err := b.t.Call(sctx, http.MethodPost, GroupPath(b.opts.Cluster, b.opts.Group, "brokers"), req, &resp)
		end(span, err)
		if err == nil {
			if id.BrokerID == 0 && path != "" {
				id.BrokerID = resp.BrokerID
				if err := writeIdentity(path, id); err != nil {
					return err
				}
			}
			b.mu.Lock()
			b.id, b.lastAck = resp.BrokerID, sent
			b.mu.Unlock()
			b.log.InfoContext(sctx, "registered", "brokerId", resp.BrokerID, "address", b.opts.Address)
			b.observe(stateOfGroup(&resp.Group))
			return nil
		}
		if fatal := b.identityError(err, id.BrokerID); fatal != nil {
			return fatal
		}
		if p := (*Problem)(nil); errors.As(err, &p) && p.Refused() {
			return fmt.Errorf("register: %w", err)
		}
		b.log.WarnContext(sctx, "register: no controller answered; retrying", "err", err)
		if !sleep(ctx, retry.next()) {
			return ctx.Err()
		}
	}
}

// identityError makes the controller's refusal of broker id's identity
// an ErrIdentityMismatch; other errors give nil.
func (b *Broker) identityError(err error, id int64) error {
	if id == 0 || !(errors.Is(err, ledgerless.ErrBrokerIDInvalid) || errors.Is(err, ledgerless.ErrBrokerNeedToBeRegistered)) {
		return nil
	}
	what := "restart the broker to register it as a new one"
	if b.opts.IdentityFile != "" {
		what = "identity file " + b.opts.IdentityFile + " is kept: remove it to register the broker as a new one"
	}
	return fmt.Errorf("%w: the controller refuses broker %d of %s/%s (%v); %s",
		ErrIdentityMismatch, id, b.opts.Cluster, b.opts.Group, err, what)
}

// heartbeats sends a heartbeat every interval until ctx ends or the
// broker resigns; a failed one is retried sooner, with backoff.
func (b *Broker) heartbeats(ctx context.Context) error {
	retry := backoff{base: minRetry, max: b.opts.HeartbeatInterval}
	failing := false
	for {
		sent := time.Now()
		hctx, err := b.heartbeat(ctx)
		wait := b.opts.HeartbeatInterval - time.Since(sent)
		switch {
		case errors.Is(err, errResigned):
			return nil
		case err == nil:
			retry.reset()
			if failing {
				b.log.Info("heartbeats acknowledged again")
			}
			failing = false
		case ctx.Err() != nil:
			return nil
		default:
			if fatal := b.identityError(err, b.ID()); fatal != nil {
				return fatal
			}
			if !failing {
				b.log.WarnContext(hctx, "heartbeat failed; retrying", "err", err, "leaseRemaining", b.MasterLeaseRemaining())
			}
			failing = true
			wait = min(wait, retry.next())
		}
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// heartbeat sends one heartbeat, bounded by the larger of the interval
// and a quarter of the timeout, so that a replica that hangs is left for
// the next one while the lease still runs. It returns the context of the
// heartbeat's span, for the log.
func (b *Broker) heartbeat(ctx context.Context) (context.Context, error) {
	b.beat.Lock()
	defer b.beat.Unlock()
	if b.resigned {
		return ctx, errResigned
	}
	ctx, cancel := context.WithTimeout(ctx, max(b.opts.HeartbeatInterval, b.opts.HeartbeatTimeout/4))
	defer cancel()
	id := b.ID()
	p := b.opts.Progress()
	req := heartbeatRequest{Address: b.opts.Address, Epoch: p.Epoch, MaxOffset: p.MaxOffset, ConfirmOffset: p.ConfirmOffset,
		ElectionPriority: b.opts.ElectionPriority, HeartbeatTimeoutMs: b.opts.HeartbeatTimeout.Milliseconds()}
	sent := time.Now()
	var resp heartbeatResponse
	ctx, span := b.span(ctx, "broker.heartbeat", id)
	_, err := b.t.Call(ctx, http.MethodPut, b.brokerPath(id, "heartbeat"), req, &resp)
	if err == nil {
		span.SetAttributes(tracing.MasterEpoch.Int64(resp.MasterEpoch))
	}
	end(span, err)
	if err != nil {
		return ctx, err
	}
	b.mu.Lock()
	b.lastAck = sent
	b.mu.Unlock()
	b.observe(stateOfHeartbeat(&resp))
	return ctx, nil
}

// follow long-polls the group until ctx ends, taking in every change.
// It keeps a long poll open to a replica at all times but for the moment
// between an answer and the next poll, and each poll names the broker:
// that open request is the broker's crash signal. When the broker's
// process dies, the replica sees the poll abandoned, finds the broker's
// address refusing connections and deposes it at once rather than after
// the heartbeat timeout. A poll that ends because the broker switches
// replicas or reconnects deposes nothing: its address still answers.
func (b *Broker) follow(ctx context.Context) error {
	retry := backoff{base: minRetry, max: maxRetry}
	index := int64(-1)
	for {
		sent := time.Now()
		pctx, cancel := context.WithTimeout(ctx, b.opts.PollWait+pollOverhead)
		pctx, span := b.span(pctx, "broker.poll", b.ID())
		g, ans, err := b.t.PollGroupAs(pctx, b.opts.Cluster, b.opts.Group, b.ID(), index, b.opts.PollWait)
		end(span, err)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			b.log.Debug("long poll failed; retrying", "err", err)
			index = -1
			if !sleep(ctx, retry.next()) {
				return nil
			}
			continue
		}
		retry.reset()
		b.observe(stateOfGroup(g))
		next, _ := ans.Index()
		changed := next > index
		index = next
		if !changed && !sleep(ctx, minPollInterval-time.Since(sent)) {
			return nil
		}
	}
}

// backoff spaces out retries: the delay doubles from base up to max, and
// each is jittered to between half and all of it, so that brokers that
// lost their controller at the same moment do not come back in step.
type backoff struct {
	base, max time.Duration
	n         int // retries since the last reset
}

// next returns the delay before the next retry.
func (b *backoff) next() time.Duration {
	d := b.max
	if b.n < 30 && b.base<<b.n < b.max {
		d = b.base << b.n
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

// reset starts over from base after a success.
func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
