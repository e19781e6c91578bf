package handlers_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/metrics"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// G is the path of the group most tests use.
const G = "/v1/clusters/c/groups/g"

// newServer runs one controller replica on a key prefix of its own, serves
// its API on a real listener and returns the base URL.
func newServer(t testing.TB) string {
	t.Helper()
	return newServerWith(t, replicaOptions{})
}

// replicaOptions are what a test may change in the replica newServerWith
// runs; zero fields take newServer's choices.
type replicaOptions struct {
	tracer    trace.TracerProvider // traces etcd requests, use cases and the API
	log       *slog.Logger
	reconcile time.Duration
	limits    service.Options    // MaxLongPolls and MaxBrokersPerGroup
	handler   []handlers.Option  // authentication
	tls       *tls.Config        // serve HTTPS with it
	opened    func(*store.Store) // is given the replica's store
}

func newServerWith(t testing.TB, o replicaOptions) string {
	t.Helper()
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	m := metrics.New()
	st, err := store.Open(store.ClientConfig{Endpoints: storetest.Endpoints(), DialTimeout: 5 * time.Second,
		Prefix: storetest.Prefix(t), TracerProvider: o.tracer, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if o.opened != nil {
		o.opened(st)
	}
	svc := service.New(service.Options{Store: st, ReplicaID: "r1", Logger: o.log, Reconcile: o.reconcile,
		TracerProvider: o.tracer, Observer: m,
		MaxLongPolls: o.limits.MaxLongPolls, MaxBrokersPerGroup: o.limits.MaxBrokersPerGroup})
	m.LongPolls(svc.Hub().Waiters)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	srv := httptest.NewUnstartedServer(handlers.New(svc, o.log, m, o.tracer, o.handler...))
	if o.tls != nil {
		srv.TLS = o.tls
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		svc.Drain() // long polls answer at once
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service Run: %v", err)
		}
	})
	// Long polls and indexes depend on the etcd watch; wait for it.
	for deadline := time.Now().Add(10 * time.Second); svc.Hub().ConnectedFor() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the service never connected to etcd")
		}
	}
	return srv.URL
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: openAPICheck}

// try sends one request; it is safe to call from any goroutine.
func try(method, url, body string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// do sends one request to url (base URL and path) and returns the status,
// the header and the body of the response.
func do(t testing.TB, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	status, h, b, err := try(method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return status, h, b
}

// call is do that requires the status want and decodes a JSON object.
func call(t testing.TB, want int, method, url, body string) (map[string]any, http.Header) {
	t.Helper()
	status, h, b := do(t, method, url, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, url, status, want, b)
	}
	if want == http.StatusNoContent {
		if len(b) != 0 {
			t.Errorf("%s %s: 204 with body %q", method, url, b)
		}
		return nil, h
	}
	return decode(t, b), h
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

// check requires m[key] to exist and to equal want once both are JSON.
func check(t testing.TB, m map[string]any, key string, want any) {
	t.Helper()
	got, ok := m[key]
	if !ok {
		t.Errorf("field %q missing in %v", key, m)
		return
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("field %q = %s, want %s", key, g, w)
	}
}

// keys requires exactly these fields in m.
func keys(t testing.TB, m map[string]any, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := m[n]; !ok {
			t.Errorf("field %q missing in %v", n, m)
		}
	}
	if len(m) != len(names) {
		t.Errorf("fields of %v: want exactly %v", m, names)
	}
}

func obj(t testing.TB, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", v)
	}
	return m
}

func list(t testing.TB, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not a JSON array", v)
	}
	return l
}

// index returns the X-Ledgerless-Index header, which must be a number.
func index(t testing.TB, h http.Header) int64 {
	t.Helper()
	s := h.Get(handlers.IndexHeader)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("%s %q is not a positive integer", handlers.IndexHeader, s)
	}
	return n
}

var (
	groupFields  = []string{"cluster", "group", "masterBrokerId", "masterAddress", "masterEpoch", "syncStateSet", "syncStateSetEpoch", "paused", "brokers"}
	brokerFields = []string{"brokerId", "address", "alive", "inSync", "epoch", "maxOffset", "confirmOffset", "electionPriority", "lastHeartbeat"}
)

// groupOf checks the shape of a Group and returns its brokers by id.
func groupOf(t testing.TB, g map[string]any) map[int]map[string]any {
	t.Helper()
	for _, f := range groupFields {
		if _, ok := g[f]; !ok {
			t.Errorf("group field %q missing in %v", f, g)
		}
	}
	out := map[int]map[string]any{}
	for _, x := range list(t, g["brokers"]) {
		b := obj(t, x)
		for _, f := range brokerFields {
			if _, ok := b[f]; !ok {
				t.Errorf("broker field %q missing in %v", f, b)
			}
		}
		id, _ := b["brokerId"].(float64)
		out[int(id)] = b
	}
	return out
}

// problem checks an RFC 9457 problem response.
func problem(t testing.TB, status int, h http.Header, body []byte, wantStatus int, code string, rmq int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status %d, want %d; body %s", status, wantStatus, body)
		if status < 400 {
			return
		}
	}
	if ct, _, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", h.Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("problem body %q: %v", body, err)
		return
	}
	for _, f := range []string{"type", "title", "detail", "code"} {
		if s, _ := p[f].(string); s == "" {
			t.Errorf("problem field %q missing or empty in %s", f, body)
		}
	}
	check(t, p, "status", status)
	check(t, p, "code", code)
	check(t, p, "rocketmqCode", rmq)
}

func register(t testing.TB, base, path, body string) (map[string]any, http.Header) {
	t.Helper()
	return call(t, http.StatusOK, "POST", base+path+"/brokers", body)
}

func TestRoutes(t *testing.T) {
	base := newServer(t)
	const addr1, addr2 = "127.0.0.1:10911", "127.0.0.1:10921"

	// Registration: the first broker is the master.
	r, h := register(t, base, G, `{"address":"`+addr1+`","registerCode":"code-1"}`)
	keys(t, r, "brokerId", "group")
	check(t, r, "brokerId", 1)
	idx := index(t, h)
	g := obj(t, r["group"])
	brokers := groupOf(t, g)
	for k, v := range map[string]any{"cluster": "c", "group": "g", "masterBrokerId": 1, "masterAddress": addr1,
		"masterEpoch": 1, "syncStateSet": []int{1}, "syncStateSetEpoch": 1, "paused": false} {
		check(t, g, k, v)
	}
	if len(brokers) != 1 || brokers[1] == nil {
		t.Fatalf("brokers %v, want broker 1", g["brokers"])
	}
	check(t, brokers[1], "address", addr1)
	check(t, brokers[1], "alive", true)
	check(t, brokers[1], "inSync", true)

	// The same registerCode gets the same id, with or without naming it.
	r, _ = register(t, base, G, `{"address":"`+addr1+`","registerCode":"code-1"}`)
	check(t, r, "brokerId", 1)
	r, _ = register(t, base, G, `{"address":"`+addr1+`","registerCode":"code-1","brokerId":1}`)
	check(t, r, "brokerId", 1)

	r, h = register(t, base, G, `{"address":"`+addr2+`","registerCode":"code-2","heartbeatTimeoutMs":60000}`)
	check(t, r, "brokerId", 2)
	if n := index(t, h); n <= idx {
		t.Errorf("index %d after a new broker, was %d", n, idx)
	}
	g = obj(t, r["group"])
	check(t, g, "masterBrokerId", 1)
	brokers = groupOf(t, g)
	check(t, brokers[2], "alive", true)
	check(t, brokers[2], "inSync", false)

	// Heartbeats.
	heartbeat := func(id int, body string) map[string]any {
		t.Helper()
		hb, _ := call(t, http.StatusOK, "PUT", base+G+"/brokers/"+strconv.Itoa(id)+"/heartbeat", body)
		keys(t, hb, "role", "masterBrokerId", "masterAddress", "masterEpoch", "syncStateSet", "syncStateSetEpoch")
		return hb
	}
	hb := heartbeat(1, `{"address":"`+addr1+`","epoch":1,"maxOffset":100,"confirmOffset":90,"electionPriority":3,"heartbeatTimeoutMs":10000}`)
	for k, v := range map[string]any{"role": "MASTER", "masterBrokerId": 1, "masterAddress": addr1, "masterEpoch": 1,
		"syncStateSet": []int{1}, "syncStateSetEpoch": 1} {
		check(t, hb, k, v)
	}
	hb = heartbeat(2, `{"epoch":1,"maxOffset":50,"confirmOffset":40,"electionPriority":0}`)
	check(t, hb, "role", "SLAVE")
	check(t, hb, "masterBrokerId", 1)

	// Reads.
	g, h = call(t, http.StatusOK, "GET", base+G, "")
	index(t, h)
	brokers = groupOf(t, g)
	for k, v := range map[string]any{"brokerId": 1, "address": addr1, "alive": true, "inSync": true, "epoch": 1,
		"maxOffset": 100, "confirmOffset": 90, "electionPriority": 3} {
		check(t, brokers[1], k, v)
	}
	check(t, brokers[2], "maxOffset", 50)
	for id, b := range brokers {
		s, _ := b["lastHeartbeat"].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("broker %d lastHeartbeat %v is not a time", id, b["lastHeartbeat"])
		}
	}

	cs, _ := call(t, http.StatusOK, "GET", base+"/v1/clusters", "")
	check(t, cs, "clusters", []any{map[string]any{"cluster": "c", "groups": []string{"g"}}})

	gs, _ := call(t, http.StatusOK, "GET", base+"/v1/clusters/c/groups", "")
	keys(t, gs, "groups")
	if l := list(t, gs["groups"]); len(l) != 1 {
		t.Errorf("groups of c: %v, want one", l)
	} else {
		groupOf(t, obj(t, l[0]))
		check(t, obj(t, l[0]), "group", "g")
	}

	ctl, _ := call(t, http.StatusOK, "GET", base+"/v1/controller", "")
	keys(t, ctl, "replicas", "etcd")
	list(t, ctl["replicas"])
	etcd := obj(t, ctl["etcd"])
	check(t, etcd, "endpoints", storetest.Endpoints())
	check(t, etcd, "embedded", false)
	if _, ok := etcd["leader"]; !ok {
		t.Errorf("etcd.leader missing in %v", etcd)
	}

	// Without authentication every caller is an unauthenticated admin.
	who, _ := call(t, http.StatusOK, "GET", base+"/v1/whoami", "")
	keys(t, who, "replica", "authenticated", "name", "role")
	check(t, who, "replica", "r1")
	check(t, who, "authenticated", false)
	check(t, who, "role", "admin")

	// Runtime configuration: a JSON merge patch; null resets a field.
	defaults := map[string]any{"enableElectUncleanMaster": false, "paused": false, "pausedGroups": []any{}, "defaultHeartbeatTimeoutMs": 10000}
	sameConfig := func(got map[string]any, want map[string]any) {
		t.Helper()
		keys(t, got, "enableElectUncleanMaster", "paused", "pausedGroups", "defaultHeartbeatTimeoutMs")
		for k, v := range want {
			check(t, got, k, v)
		}
	}
	cfg, _ := call(t, http.StatusOK, "GET", base+"/v1/config", "")
	sameConfig(cfg, defaults)
	changed := map[string]any{"enableElectUncleanMaster": true, "paused": false, "pausedGroups": []string{"c/g"}, "defaultHeartbeatTimeoutMs": 5000}
	cfg, _ = call(t, http.StatusOK, "PATCH", base+"/v1/config", `{"enableElectUncleanMaster":true,"pausedGroups":["c/g"],"defaultHeartbeatTimeoutMs":5000}`)
	sameConfig(cfg, changed)
	cfg, _ = call(t, http.StatusOK, "GET", base+"/v1/config", "")
	sameConfig(cfg, changed)
	g, _ = call(t, http.StatusOK, "GET", base+G, "")
	check(t, g, "paused", true)
	cfg, _ = call(t, http.StatusOK, "PATCH", base+"/v1/config", `{}`)
	sameConfig(cfg, changed)
	cfg, _ = call(t, http.StatusOK, "PATCH", base+"/v1/config", `{"enableElectUncleanMaster":null,"pausedGroups":null,"defaultHeartbeatTimeoutMs":null}`)
	sameConfig(cfg, defaults)
	cfg, _ = call(t, http.StatusOK, "GET", base+"/v1/config", "")
	sameConfig(cfg, defaults)
	g, _ = call(t, http.StatusOK, "GET", base+G, "")
	check(t, g, "paused", false)

	// The master adds broker 2 to the SyncStateSet.
	sss, _ := call(t, http.StatusOK, "POST", base+G+"/sync-state-set",
		`{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`)
	keys(t, sss, "syncStateSet", "syncStateSetEpoch")
	check(t, sss, "syncStateSet", []int{1, 2})
	check(t, sss, "syncStateSetEpoch", 2)
	g, _ = call(t, http.StatusOK, "GET", base+G, "")
	check(t, groupOf(t, g)[2], "inSync", true)

	// Admin election of broker 2.
	g, h = call(t, http.StatusOK, "POST", base+G+"/elect", `{"brokerId":2}`)
	index(t, h)
	groupOf(t, g)
	for k, v := range map[string]any{"masterBrokerId": 2, "masterAddress": addr2, "masterEpoch": 2,
		"syncStateSet": []int{2}, "syncStateSetEpoch": 3} {
		check(t, g, k, v)
	}
	check(t, heartbeat(1, `{"epoch":1,"maxOffset":100}`), "role", "SLAVE")
	check(t, heartbeat(2, `{"epoch":2,"maxOffset":50}`), "role", "MASTER")

	// Election history, newest first, and its pages.
	hist, _ := call(t, http.StatusOK, "GET", base+G+"/history", "")
	keys(t, hist, "items", "next")
	check(t, hist, "next", nil)
	items := list(t, hist["items"])
	if len(items) != 2 {
		t.Fatalf("history items %v, want 2", items)
	}
	itemFields := []string{"masterEpoch", "time", "reason", "oldMasterBrokerId", "newMasterBrokerId", "replica"}
	for i, want := range []map[string]any{
		{"masterEpoch": 2, "reason": "admin", "oldMasterBrokerId": 1, "newMasterBrokerId": 2, "replica": "r1"},
		{"masterEpoch": 1, "reason": "first-master", "oldMasterBrokerId": nil, "newMasterBrokerId": 1, "replica": "r1"},
	} {
		it := obj(t, items[i])
		keys(t, it, itemFields...)
		for k, v := range want {
			check(t, it, k, v)
		}
		if s, _ := it["time"].(string); s == "" {
			t.Errorf("history item %d time %v", i, it["time"])
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("history item %d time: %v", i, err)
		}
	}
	hist, _ = call(t, http.StatusOK, "GET", base+G+"/history?limit=1", "")
	check(t, hist, "next", 2)
	if items = list(t, hist["items"]); len(items) != 1 {
		t.Fatalf("history?limit=1 items %v, want 1", items)
	}
	check(t, obj(t, items[0]), "masterEpoch", 2)
	hist, _ = call(t, http.StatusOK, "GET", base+G+"/history?limit=1&before=2", "")
	check(t, hist, "next", nil)
	if items = list(t, hist["items"]); len(items) != 1 {
		t.Fatalf("history?limit=1&before=2 items %v, want 1", items)
	}
	check(t, obj(t, items[0]), "masterEpoch", 1)

	// Resignation, then cleaning.
	call(t, http.StatusNoContent, "DELETE", base+G+"/brokers/1/lease", "")
	g, _ = call(t, http.StatusOK, "GET", base+G, "")
	check(t, groupOf(t, g)[1], "alive", false)
	check(t, g, "masterBrokerId", 2)
	call(t, http.StatusNoContent, "DELETE", base+G+"/brokers/1", "")
	g, _ = call(t, http.StatusOK, "GET", base+G, "")
	if b := groupOf(t, g); len(b) != 1 || b[2] == nil {
		t.Errorf("brokers after removing 1: %v", g["brokers"])
	}
	call(t, http.StatusNoContent, "DELETE", base+G+"?force=true", "")
	status, h, body := do(t, "GET", base+G, "")
	problem(t, status, h, body, http.StatusNotFound, "BROKER_METADATA_NOT_EXIST", 2008)
	status, h, body = do(t, "GET", base+G+"/history", "")
	problem(t, status, h, body, http.StatusNotFound, "BROKER_METADATA_NOT_EXIST", 2008)

	// Operations.
	call(t, http.StatusOK, "GET", base+"/healthz", "")
	call(t, http.StatusOK, "GET", base+"/readyz", "")
	status, _, body = do(t, "GET", base+"/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics: status %d", status)
	}
	for _, name := range []string{"ledgerless_heartbeats_total", "go_goroutines"} {
		if !bytes.Contains(body, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestErrors(t *testing.T) {
	base := newServer(t)
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1","heartbeatTimeoutMs":60000}`)
	register(t, base, G, `{"address":"127.0.0.1:10921","registerCode":"code-2","heartbeatTimeoutMs":60000}`)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
		rmq                      int
	}{
		{"heartbeat of an unknown broker", "PUT", G + "/brokers/99/heartbeat", `{}`, 404, "BROKER_NEED_TO_BE_REGISTERED", 2010},
		{"resign of an unknown broker", "DELETE", G + "/brokers/99/lease", "", 404, "BROKER_NEED_TO_BE_REGISTERED", 2010},
		{"remove an unknown broker", "DELETE", G + "/brokers/99", "", 404, "BROKER_NEED_TO_BE_REGISTERED", 2010},
		{"register an unknown broker id", "POST", G + "/brokers", `{"address":"127.0.0.1:1","registerCode":"code-9","brokerId":99}`, 404, "BROKER_NEED_TO_BE_REGISTERED", 2010},
		{"unknown group", "GET", "/v1/clusters/c/groups/nope", "", 404, "BROKER_METADATA_NOT_EXIST", 2008},
		{"unknown cluster", "GET", "/v1/clusters/nope/groups", "", 404, "BROKER_METADATA_NOT_EXIST", 2008},
		{"history of an unknown group", "GET", "/v1/clusters/c/groups/nope/history", "", 404, "BROKER_METADATA_NOT_EXIST", 2008},
		{"elect in an unknown group", "POST", "/v1/clusters/c/groups/nope/elect", `{"brokerId":1}`, 404, "BROKER_METADATA_NOT_EXIST", 2008},
		{"delete an unknown group", "DELETE", "/v1/clusters/c/groups/nope", "", 404, "BROKER_METADATA_NOT_EXIST", 2008},
		{"sync-state-set of an unknown group", "POST", "/v1/clusters/c/groups/nope/sync-state-set",
			`{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1],"syncStateSetEpoch":1}`, 404, "BROKER_METADATA_NOT_EXIST", 2008},
		{"broker id of another registerCode", "POST", G + "/brokers", `{"address":"127.0.0.1:10911","registerCode":"other","brokerId":1}`, 409, "BROKER_ID_INVALID", 2014},
		{"stale masterEpoch", "POST", G + "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":7,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, 409, "FENCED_MASTER_EPOCH", 2000},
		{"stale syncStateSetEpoch", "POST", G + "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":7}`, 409, "FENCED_SYNC_STATE_SET_EPOCH", 2001},
		{"not the master", "POST", G + "/sync-state-set", `{"masterBrokerId":2,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, 409, "INVALID_MASTER", 2002},
		{"unregistered replica", "POST", G + "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,3],"syncStateSetEpoch":1}`, 409, "INVALID_REPLICAS", 2003},
		{"set without the master", "POST", G + "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[2],"syncStateSetEpoch":1}`, 409, "ALTER_SYNC_STATE_SET_FAILED", 2013},
		{"unchanged set", "POST", G + "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1],"syncStateSetEpoch":1}`, 409, "ALTER_SYNC_STATE_SET_FAILED", 2013},
		{"elect the current master", "POST", G + "/elect", `{"brokerId":1}`, 409, "MASTER_STILL_EXIST", 2011},
		{"elect a broker outside the SyncStateSet", "POST", G + "/elect", `{"brokerId":2}`, 409, "ELECT_MASTER_FAILED", 2012},
		{"elect an unknown broker", "POST", G + "/elect", `{"brokerId":99}`, 409, "ELECT_MASTER_FAILED", 2012},
		{"remove a living broker", "DELETE", G + "/brokers/2", "", 409, "INVALID_CLEAN_BROKER_METADATA", 2009},
		{"remove the living master", "DELETE", G + "/brokers/1?force=true", "", 409, "INVALID_CLEAN_BROKER_METADATA", 2009},
		{"remove a living group", "DELETE", G, "", 409, "INVALID_CLEAN_BROKER_METADATA", 2009},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := do(t, c.method, base+c.path, c.body)
			problem(t, status, h, body, c.status, c.code, c.rmq)
		})
	}

	// A dead broker may not join the SyncStateSet.
	call(t, http.StatusNoContent, "DELETE", base+G+"/brokers/2/lease", "")
	status, h, body := do(t, "POST", base+G+"/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`)
	problem(t, status, h, body, http.StatusConflict, "BROKER_NOT_ALIVE", 2006)

	// Nothing above changed the group.
	g, _ := call(t, http.StatusOK, "GET", base+G, "")
	for k, v := range map[string]any{"masterBrokerId": 1, "masterEpoch": 1, "syncStateSet": []int{1}, "syncStateSetEpoch": 1} {
		check(t, g, k, v)
	}
	if b := groupOf(t, g); len(b) != 2 {
		t.Errorf("brokers %v, want 2", g["brokers"])
	}
}
