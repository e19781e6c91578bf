package cli_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentGroupPausesBothHold: two operators pause two different
// groups at the same moment: both read the configuration before either
// writes it (a proxy holds the first two reads until both arrived). Each
// writes with If-Match; the second write finds the configuration changed
// (412), reads it again and writes again. Neither pause is lost.
func TestConcurrentGroupPausesBothHold(t *testing.T) {
	base := newServer(t)
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var reads, preconditionFailed atomic.Int32
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		if r.Method == http.MethodGet && r.URL.Path == "/v1/config" && reads.Add(1) <= 2 {
			// Read, but not answered until the other operator read too.
			arrived <- struct{}{}
			select {
			case <-release:
			case <-time.After(10 * time.Second):
				t.Error("the two reads of the configuration never met")
			}
		}
		if rec.Code == http.StatusPreconditionFailed {
			preconditionFailed.Add(1)
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer front.Close()
	go func() {
		<-arrived
		<-arrived
		close(release)
	}()

	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, g := range []string{"g1", "g2"} {
		wg.Go(func() { results[i] = run("--controller", front.URL, "pause", "c1", g) })
	}
	wg.Wait()
	for _, r := range results {
		r.ok(t)
	}
	var cfg struct {
		PausedGroups []string `json:"pausedGroups"`
	}
	if err := json.Unmarshal(call(t, "GET", base+"/v1/config", ""), &cfg); err != nil {
		t.Fatal(err)
	}
	slices.Sort(cfg.PausedGroups)
	if !slices.Equal(cfg.PausedGroups, []string{"c1/g1", "c1/g2"}) {
		t.Errorf("pausedGroups %v after pausing c1/g1 and c1/g2 at once, want both", cfg.PausedGroups)
	}
	if preconditionFailed.Load() != 1 {
		t.Errorf("%d writes found the configuration changed, want 1 (the second)", preconditionFailed.Load())
	}
}
