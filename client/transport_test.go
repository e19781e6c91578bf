package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
)

// TestTransportPrefersTheLastAnswer: after a replica failed, requests go
// to the one that answered first, not to the failed one again.
func TestTransportPrefersTheLastAnswer(t *testing.T) {
	var sickCalls, goodCalls atomic.Int64
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sickCalls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		goodCalls.Add(1)
		w.Write([]byte(`{}`))
	}))
	defer good.Close()
	tr := admin(t, sick.URL, good.URL)
	for range 3 {
		if _, err := tr.Do(ctxT(t), http.MethodGet, "/x", nil); err != nil {
			t.Fatal(err)
		}
	}
	if sickCalls.Load() != 1 || goodCalls.Load() != 3 {
		t.Errorf("%d calls to the sick replica and %d to the good one, want 1 and 3", sickCalls.Load(), goodCalls.Load())
	}
}

func TestTransportProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proxy":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>bad gateway</html>"))
		case "/fenced":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"type":"urn:ledgerless:problem:fenced_master_epoch","title":"Master epoch is fenced","status":409,"detail":"epoch 3 is not 4","code":"FENCED_MASTER_EPOCH","rocketmqCode":2000}`))
		}
	}))
	defer srv.Close()
	tr := admin(t, srv.URL)

	_, err := tr.Do(ctxT(t), http.MethodGet, "/proxy", nil)
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusBadGateway || p.Refused() || p.Detail != "<html>bad gateway</html>" {
		t.Errorf("a proxy's error page: %v (%+v)", err, p)
	}
	_, err = tr.Do(ctxT(t), http.MethodPost, "/fenced", map[string]int{"x": 1})
	if !errors.Is(err, ledgerless.ErrFencedMasterEpoch) || errors.Is(err, ledgerless.ErrFencedSyncStateSetEpoch) ||
		!errors.As(err, &p) || !p.Refused() || p.RocketMQCode != 2000 {
		t.Errorf("a fenced answer: %v (%+v)", err, p)
	}
	if want := "Master epoch is fenced (FENCED_MASTER_EPOCH): epoch 3 is not 4"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}
