package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/service"
)

func TestLimits(t *testing.T) {
	base := newServerWith(t, replicaOptions{limits: service.Options{MaxLongPolls: 2, MaxBrokersPerGroup: 2}})

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
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, _, metrics := do(t, "GET", base+"/metrics", "")
		if strings.Contains(string(metrics), "\nledgerless_longpoll_waiters 2\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("2 long polls never waited")
		}
	}
	status, h, body = do(t, "GET", base+G+"?index=0&wait=1s", "")
	problem(t, status, h, body, http.StatusServiceUnavailable, "TOO_MANY_LONG_POLLS", 2)
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", h.Get("Retry-After"))
	}
	call(t, http.StatusOK, "GET", base+G, "")
}
