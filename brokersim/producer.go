package brokersim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
)

// ProducerConfig configures Produce.
type ProducerConfig struct {
	// Brokers are the addresses (host:port) of the group's brokers.
	Brokers []string
	// Prefix starts every payload; the message number follows.
	Prefix string
	// Count is the number of messages to send; 0: until ctx ends.
	Count int64
	// Interval is the pause after each acknowledged message.
	Interval time.Duration
	// Timeout bounds one produce request (default 3 s).
	Timeout time.Duration
	// Acks receives an Ack as a JSON line for every acknowledged message.
	Acks io.Writer
	// HTTP sends the requests (default: http.DefaultClient).
	HTTP *http.Client
	// Logger receives the producer's log; default: none.
	Logger *slog.Logger
}

// Ack is an acknowledged message: which broker acknowledged it, as
// master of which epoch, at which offset.
type Ack struct {
	N        int64     `json:"n"`
	Payload  string    `json:"payload"`
	Broker   string    `json:"broker"`
	BrokerID int64     `json:"brokerId"`
	Epoch    int64     `json:"epoch"`
	Offset   int64     `json:"offset"`
	Time     time.Time `json:"time"`
}

// ProducerStats count what Produce did.
type ProducerStats struct {
	Acked    int64 // messages acknowledged
	Attempts int64 // produce requests sent
}

// Produce sends messages 1, 2, ... to whichever broker is master, each
// until it is acknowledged, and writes an Ack for each. A message that
// was not acknowledged is sent again (to the master found afresh), so a
// log may hold it more than once. Produce returns when Count messages
// are acknowledged or ctx ends.
func Produce(ctx context.Context, cfg ProducerConfig) (ProducerStats, error) {
	if len(cfg.Brokers) == 0 || cfg.Acks == nil {
		return ProducerStats{}, errors.New("producer: brokers and an acknowledgement writer are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &producer{cfg: cfg}
	var stats ProducerStats
	master := ""
	for n := int64(1); cfg.Count == 0 || n <= cfg.Count; {
		if ctx.Err() != nil {
			return stats, nil
		}
		if master == "" {
			if master = p.findMaster(ctx); master == "" {
				sleepCtx(ctx, retryEvery)
				continue
			}
			cfg.Logger.Info("producing to the master", "broker", master, "next", n, "acknowledged", stats.Acked)
		}
		payload := cfg.Prefix + strconv.FormatInt(n, 10)
		stats.Attempts++
		ans, err := p.send(ctx, master, payload)
		if err != nil {
			cfg.Logger.Info("produce failed; looking for the master", "n", n, "broker", master, "err", err)
			master = ""
			continue
		}
		line, _ := json.Marshal(Ack{N: n, Payload: payload, Broker: master, BrokerID: ans.BrokerID, Epoch: ans.Epoch,
			Offset: ans.Offset, Time: time.Now()})
		if _, err := cfg.Acks.Write(append(line, '\n')); err != nil {
			return stats, fmt.Errorf("record acknowledgement: %w", err)
		}
		stats.Acked++
		n++
		sleepCtx(ctx, cfg.Interval)
	}
	return stats, nil
}

type producer struct {
	cfg ProducerConfig
}

// send produces payload on the broker at addr.
func (p *producer) send(ctx context.Context, addr, payload string) (ProduceAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/produce", bytes.NewReader([]byte(payload)))
	if err != nil {
		return ProduceAnswer{}, err
	}
	resp, err := p.cfg.HTTP.Do(req)
	if err != nil {
		return ProduceAnswer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return ProduceAnswer{}, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var ans ProduceAnswer
	return ans, json.Unmarshal(body, &ans)
}

// findMaster asks every broker for its status and returns the address of
// the one that is master at the highest masterEpoch, or "" for none.
func (p *producer) findMaster(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	best, bestEpoch := "", int64(-1)
	for _, addr := range p.cfg.Brokers {
		wg.Go(func() {
			s, err := ReadStatus(ctx, p.cfg.HTTP, addr)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && s.Role == ledgerless.RoleMaster && !s.Stopping && s.MasterEpoch > bestEpoch {
				best, bestEpoch = addr, s.MasterEpoch
			}
		})
	}
	wg.Wait()
	return best
}

// ReadStatus reads GET /status of the broker at addr.
func ReadStatus(ctx context.Context, hc *http.Client, addr string) (Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return Status{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	var s Status
	return s, json.NewDecoder(resp.Body).Decode(&s)
}
