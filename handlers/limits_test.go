package handlers_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/service"
)

func TestLimits(t *testing.T) {
	svc := startService(t, service.Options{MaxLongPolls: 2, MaxBrokersPerGroup: 2})
	srv := httptest.NewServer(handlers.New(svc, slog.New(slog.DiscardHandler), handlers.NewMetrics(svc.Hub().Waiters)))
	t.Cleanup(func() {
		svc.Drain()
		srv.Close()
	})
	base := srv.URL

	// Brokers per group: a third new broker is refused, and changes nothing.
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1"}`)
	register(t, base, G, `{"address":"127.0.0.1:10921","registerCode":"code-2"}`)
	status, h, body := do(t, "POST", base+G+"/brokers", `{"address":"127.0.0.1:10931","registerCode":"code-3"}`)
	problem(t, status, h, body, http.StatusConflict, "TOO_MANY_BROKERS", 2005)
	g, _ := call(t, http.StatusOK, "GET", base+G, "")
	if brokers := groupOf(t, g); len(brokers) != 2 {
		t.Errorf("brokers after the refusal: %v", brokers)
	}
	register(t, base, G, `{"address":"127.0.0.1:10912","registerCode":"code-1"}`) // a known broker is no new one
	register(t, base, "/v1/clusters/c/groups/other", `{"address":"127.0.0.1:10941","registerCode":"code-3"}`)

	// Long polls: two wait; a third is refused at once, plain reads are not.
	for range 2 {
		go func() { _, _, _, _ = try("GET", base+G+"?index="+strconv.FormatInt(1<<62, 10)+"&wait=1m", "") }()
	}
	for deadline := time.Now().Add(10 * time.Second); svc.Hub().Waiters() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d long polls waiting, want 2", svc.Hub().Waiters())
		}
	}
	status, h, body = do(t, "GET", base+G+"?index=0&wait=1s", "")
	problem(t, status, h, body, http.StatusServiceUnavailable, "TOO_MANY_LONG_POLLS", 2)
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", h.Get("Retry-After"))
	}
	call(t, http.StatusOK, "GET", base+G, "")
}
