package brokersim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Replication from master to slave.
const (
	pullWait   = 500 * time.Millisecond // a master holds a pull at its end this long
	pullBatch  = 1000                   // entries per pull at most
	retryEvery = 100 * time.Millisecond
)

// pullAnswer is a master's answer to a pull.
type pullAnswer struct {
	Epoch         int64   `json:"masterEpoch"`
	ConfirmOffset int64   `json:"confirmOffset"`
	Entries       []Entry `json:"entries"`
}

// errStale ends the replication of an epoch the broker left.
var errStale = errors.New("the broker left this masterEpoch")

// follow replicates from the master at addr of masterEpoch epoch until
// ctx ends: it first truncates its log to where it parts from the
// master's, then pulls. Data from a master of another epoch is refused.
func (b *Broker) follow(ctx context.Context, epoch int64, addr string) {
	verified := false
	for ctx.Err() == nil {
		if !verified {
			var master Table
			err := b.get(ctx, addr, "/epochs?"+url.Values{"epoch": {strconv.FormatInt(epoch, 10)}}.Encode(), &master)
			if err == nil {
				err = b.truncate(epoch, master)
			}
			if err != nil {
				b.log.Debug("replication: cannot compare epochs with the master yet", "master", addr, "err", err)
				sleepCtx(ctx, retryEvery)
				continue
			}
			verified = true
		}
		from := b.end()
		q := url.Values{"epoch": {strconv.FormatInt(epoch, 10)}, "broker": {strconv.FormatInt(b.sdk.ID(), 10)},
			"from": {strconv.FormatInt(from, 10)}, "wait": {pullWait.String()}}
		var ans pullAnswer
		if err := b.get(ctx, addr, "/replicate?"+q.Encode(), &ans); err != nil {
			b.log.Debug("replication: pull failed", "master", addr, "err", err)
			sleepCtx(ctx, retryEvery)
			continue
		}
		if err := b.appendReplicated(epoch, from, ans); err != nil {
			b.log.Warn("replication: answer refused", "master", addr, "err", err)
			verified = false
		}
	}
}

func (b *Broker) end() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.data.End()
}

// truncate cuts the log at the point where it parts from master's, unless
// that would remove entries known to be acknowledged.
func (b *Broker) truncate(epoch int64, master Table) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.epoch != epoch || b.role != ledgerless.RoleSlave {
		return errStale
	}
	c := ConsistentOffset(b.data.Table(), master)
	if c >= b.data.End() {
		b.refused = ""
		return nil
	}
	if c < b.confirm {
		reason := fmt.Sprintf("masterEpoch %d: the log parts from the master's at %d, below the confirmed offset %d", epoch, c, b.confirm)
		if reason != b.refused {
			b.log.Error("refusing to truncate acknowledged entries", "reason", reason)
		}
		b.refused = reason
		return errors.New(reason)
	}
	removed, err := b.data.TruncateTo(c)
	if err != nil {
		return err
	}
	b.refused = ""
	b.truncated = append(b.truncated, removed...)
	if len(b.truncated) > maxTruncated {
		b.truncated = b.truncated[len(b.truncated)-maxTruncated:]
	}
	b.log.Info("truncated the log where it parts from the master's", "masterEpoch", epoch, "offset", c, "removed", len(removed))
	return nil
}

// appendReplicated appends what a pull from from brought.
func (b *Broker) appendReplicated(epoch, from int64, ans pullAnswer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.epoch != epoch {
		return nil // the broker moved on
	}
	if ans.Epoch != epoch {
		return fmt.Errorf("data of masterEpoch %d refused at masterEpoch %d", ans.Epoch, epoch)
	}
	if from != b.data.End() {
		return fmt.Errorf("pulled from %d, the log ends at %d", from, b.data.End())
	}
	for _, e := range ans.Entries {
		if e.Epoch > epoch {
			return fmt.Errorf("entry of masterEpoch %d from the master of %d", e.Epoch, epoch)
		}
		if err := b.data.Append(e); err != nil {
			return err
		}
	}
	b.confirm = max(b.confirm, min(ans.ConfirmOffset, b.data.End()))
	return nil
}

// get reads path of the broker at addr into out.
func (b *Broker) get(ctx context.Context, addr, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, pullWait+2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("%s: %s: %s", addr, resp.Status, e.Error)
	}
	return json.Unmarshal(body, out)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
