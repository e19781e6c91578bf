package handlers_test

import (
	"bytes"
	"strings"
	"testing"
)

// Every JSON answer ends with a newline, so that curl's output and a
// shell prompt do not run together: answers, problems, long polls.
func TestJSONEndsWithNewline(t *testing.T) {
	base := newServer(t)
	g := base + "/v1/clusters/c1/groups/g1"
	register(t, base, "/v1/clusters/c1/groups/g1", `{"address":"10.0.0.1:10911","registerCode":"code-a"}`)
	for _, req := range []struct{ method, path, body string }{
		{"POST", g + "/brokers", `{"address":"10.0.0.2:10911","registerCode":"code-b"}`},
		{"PUT", g + "/brokers/1/heartbeat", `{"epoch":1}`},
		{"GET", g, ""},
		{"GET", g + "?index=0&wait=1s", ""},
		{"GET", g + "/history", ""},
		{"GET", base + "/v1/clusters", ""},
		{"GET", base + "/v1/config", ""},
		{"GET", base + "/healthz", ""},
		{"GET", base + "/v1/clusters/c1/groups/none", ""}, // a problem
		{"POST", g + "/brokers", `{"address":`},           // a problem
	} {
		status, h, body := do(t, req.method, req.path, req.body)
		if ct := h.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("%s %s: %d with Content-Type %q", req.method, req.path, status, ct)
			continue
		}
		if !bytes.HasSuffix(body, []byte("\n")) || bytes.HasSuffix(body, []byte("\n\n")) {
			t.Errorf("%s %s: %d answer does not end with one newline: %q", req.method, req.path, status, body)
		}
	}
}
