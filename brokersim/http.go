package brokersim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Limits of the HTTP API.
const (
	maxPayload  = 1 << 20
	defaultRead = 10000 // entries of GET /log without a limit
	maxRead     = 100000
)

// ProduceAnswer is the answer to an acknowledged POST /produce.
type ProduceAnswer struct {
	BrokerID int64 `json:"brokerId"`
	Epoch    int64 `json:"epoch"`
	Offset   int64 `json:"offset"`
}

// LogAnswer is the answer to GET /log and GET /truncated.
type LogAnswer struct {
	Entries []Entry `json:"entries"`
	Table
}

// errorBody is the body of every error answer. A refused write names the
// master the broker knows of.
type errorBody struct {
	Error         string `json:"error"`
	MasterEpoch   int64  `json:"masterEpoch,omitempty"`
	MasterAddress string `json:"masterAddress,omitempty"`
}

// handler is the broker's HTTP API:
//
//	POST /produce          body: the payload; 200 once every SyncStateSet member has it
//	GET  /status           role, epochs, offsets, SyncStateSet (Status)
//	GET  /log?from=N&limit=M   entries and the epoch table, for checks
//	GET  /truncated        entries truncated since the start, for checks
//	GET  /healthz          the process is up
//	GET  /epochs?epoch=E   replication: the master's epoch table
//	GET  /replicate?epoch=E&broker=ID&from=N&wait=D   replication: a slave's pull
func (b *Broker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /produce", b.serveProduce)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, b.Status()) })
	mux.HandleFunc("GET /log", b.serveLog)
	mux.HandleFunc("GET /truncated", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		writeJSON(w, http.StatusOK, LogAnswer{Entries: slices.Clone(b.truncated), Table: b.data.Table()})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /epochs", b.serveEpochs)
	mux.HandleFunc("GET /replicate", b.serveReplicate)
	return mux
}

func (b *Broker) serveProduce(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil || len(payload) > maxPayload {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the payload must be at most 1 MiB"})
		return
	}
	e, err := b.produce(r.Context(), string(payload))
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, ProduceAnswer{BrokerID: b.sdk.ID(), Epoch: e.Epoch, Offset: e.Offset})
	case errors.Is(err, errNotMaster):
		b.mu.Lock()
		body := errorBody{Error: err.Error(), MasterEpoch: b.epoch, MasterAddress: b.masterAddr}
		b.mu.Unlock()
		writeJSON(w, http.StatusConflict, body)
	case errors.Is(err, errNotAcked), errors.Is(err, errLeaseExpired):
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
	}
}

func (b *Broker) serveLog(w http.ResponseWriter, r *http.Request) {
	from, ok1 := intParam(w, r, "from", 0)
	limit, ok2 := intParam(w, r, "limit", defaultRead)
	if !ok1 || !ok2 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	writeJSON(w, http.StatusOK, LogAnswer{Entries: b.data.Read(from, int(min(limit, maxRead))), Table: b.data.Table()})
}

func (b *Broker) serveEpochs(w http.ResponseWriter, r *http.Request) {
	epoch, ok := intParam(w, r, "epoch", -1)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.servesLocked(epoch); err != nil {
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), MasterEpoch: b.epoch})
		return
	}
	writeJSON(w, http.StatusOK, b.data.Table())
}

func (b *Broker) serveReplicate(w http.ResponseWriter, r *http.Request) {
	epoch, ok1 := intParam(w, r, "epoch", -1)
	broker, ok2 := intParam(w, r, "broker", -1)
	from, ok3 := intParam(w, r, "from", -1)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil || wait < 0 || wait > time.Minute {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "wait must be a duration of at most 1m"})
		return
	}
	ans, err := b.pull(r.Context(), broker, epoch, from, pullBatch, wait)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, ans)
	case errors.Is(err, errFenced):
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
	}
}

// intParam reads a non-negative integer query parameter; def < 0 makes it
// required.
func intParam(w http.ResponseWriter, r *http.Request, name string, def int64) (int64, bool) {
	s := r.URL.Query().Get(name)
	if s == "" && def >= 0 {
		return def, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: name + " must be a non-negative integer"})
		return 0, false
	}
	return n, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
