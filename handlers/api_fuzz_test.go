package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzRoutes are the requests FuzzAPI makes; {c}, {g} and {id} are the
// fuzzed path segments.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/clusters/{c}/groups/{g}/brokers"},
	{"PUT", "/v1/clusters/{c}/groups/{g}/brokers/{id}/heartbeat"},
	{"DELETE", "/v1/clusters/{c}/groups/{g}/brokers/{id}/lease"},
	{"GET", "/v1/clusters/{c}/groups/{g}"},
	{"POST", "/v1/clusters/{c}/groups/{g}/sync-state-set"},
	{"POST", "/v1/clusters/{c}/groups/{g}/elect"},
	{"DELETE", "/v1/clusters/{c}/groups/{g}/brokers/{id}"},
	{"DELETE", "/v1/clusters/{c}/groups/{g}"},
	{"GET", "/v1/clusters/{c}/groups/{g}/history"},
	{"GET", "/v1/clusters/{c}/groups"},
	{"GET", "/v1/clusters"},
	{"GET", "/v1/config"},
	{"PATCH", "/v1/config"},
	{"GET", "/v1/controller"},
	{"PUT", "/v1/clusters/{c}/groups/{g}/brokers/{id}"},
}

// groupView is what FuzzAPI remembers of a group to check its invariants.
type groupView struct {
	masterEpoch, syncStateSetEpoch int64
	masters                        map[int64]int64 // masterEpoch → master (0: none)
}

// FuzzAPI sends one fuzzed request per input to a real in-process replica
// on a real etcd, whose state carries over from input to input. Every
// answer must be a 2xx, or a 4xx problem; a wait may outlast the client
// only for a long poll. Afterwards the group the request named (and c/g)
// must keep the election invariants: masterEpoch and syncStateSetEpoch
// never go back, one master per masterEpoch, the master in the
// SyncStateSet.
func FuzzAPI(f *testing.F) {
	base := newServer(f)
	for _, code := range []string{"code-1", "code-2"} {
		call(f, http.StatusOK, "POST", base+G+"/brokers", `{"address":"127.0.0.1:10911","registerCode":"`+code+`"}`)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	seen := map[string]*groupView{}
	f.Fuzz(func(t *testing.T, route uint8, cluster, group, id, query, body string) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		if strings.ContainsFunc(query, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == '#' }) {
			return // not a query a client can send
		}
		path := strings.NewReplacer("{c}", url.PathEscape(cluster), "{g}", url.PathEscape(group),
			"{id}", url.PathEscape(id)).Replace(r.path)
		// A long poll may wait for minutes; the client gives up sooner.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		longPoll := r.method == "GET" && r.path == "/v1/clusters/{c}/groups/{g}" && strings.Contains(query, "=")
		if longPoll {
			ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
		}
		req, err := http.NewRequestWithContext(ctx, r.method, base+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.URL.RawQuery = query
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		switch {
		case err != nil && longPoll && errors.Is(err, context.DeadlineExceeded):
			// A long poll that waits longer than the client.
		case err != nil:
			t.Fatalf("%s %s?%s %q: %v", r.method, path, query, body, err)
		default:
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode >= 500 || resp.StatusCode >= 400 && ct != "application/problem+json" {
				t.Fatalf("%s %s?%s %q: %d %s %s", r.method, path, query, body, resp.StatusCode, ct, b)
			}
		}
		for _, g := range []string{"/v1/clusters/" + url.PathEscape(cluster) + "/groups/" + url.PathEscape(group), G} {
			checkGroup(t, client, base+g, seen)
		}
	})
}

// checkGroup reads the group at url, if it exists, and checks its
// invariants against what was seen of it before.
func checkGroup(t *testing.T, client *http.Client, url string, seen map[string]*groupView) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 500 {
			t.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		return // no such group, or no valid name
	}
	var g struct {
		MasterBrokerID    *int64  `json:"masterBrokerId"`
		MasterEpoch       int64   `json:"masterEpoch"`
		SyncStateSet      []int64 `json:"syncStateSet"`
		SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	var master int64
	if g.MasterBrokerID != nil {
		master = *g.MasterBrokerID
		if !slices.Contains(g.SyncStateSet, master) {
			t.Fatalf("%s: master %d is not in the SyncStateSet %v", url, master, g.SyncStateSet)
		}
	}
	v := seen[url]
	if v == nil {
		v = &groupView{masters: map[int64]int64{}}
		seen[url] = v
	}
	if g.MasterEpoch < v.masterEpoch || g.SyncStateSetEpoch < v.syncStateSetEpoch {
		t.Fatalf("%s: epochs went back from %d/%d to %d/%d", url, v.masterEpoch, v.syncStateSetEpoch, g.MasterEpoch, g.SyncStateSetEpoch)
	}
	if m, ok := v.masters[g.MasterEpoch]; ok && m != master {
		t.Fatalf("%s: masterEpoch %d had master %d, now %d", url, g.MasterEpoch, m, master)
	}
	v.masterEpoch, v.syncStateSetEpoch, v.masters[g.MasterEpoch] = g.MasterEpoch, g.SyncStateSetEpoch, master
}
