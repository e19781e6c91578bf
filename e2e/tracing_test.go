package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// span is the part of a span the stdout exporter prints that the test reads.
type span struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ SpanID string }
	Resource    []struct {
		Key   string
		Value struct{ Value any }
	}
}

// TestServeTracesToStdout runs a replica configured, through the
// environment and the YAML file, to print its spans on standard output,
// and follows one traced request through them.
func TestServeTracesToStdout(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ledgerless.yaml")
	if err := os.WriteFile(file, []byte("tracing:\n  sample-ratio: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startEnv(t, []string{"LEDGERLESS_TRACING_EXPORTER=stdout"}, "--config", file, "--data-dir", t.TempDir(),
		"--replica-id", "one", "--embedded-client-url", "http://"+freeAddr(t), "--embedded-peer-url", "http://"+freeAddr(t))
	p.ready(t)
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", p.url+"/v1/clusters/c/groups/g/brokers",
		strings.NewReader(`{"address":"127.0.0.1:10911","registerCode":"x"}`))
	req.Header.Set("traceparent", "00-"+trace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register: status %d", resp.StatusCode)
	}
	// An untraced request: with a sample ratio of 0, it records nothing.
	if resp, err := http.Get(p.url + "/v1/clusters"); err == nil {
		resp.Body.Close()
	}
	p.stop(t) // flushes the spans

	names := map[string]span{}
	sc := bufio.NewScanner(bytes.NewReader(p.out.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s span
		if json.Unmarshal(sc.Bytes(), &s) != nil || s.Name == "" {
			continue // a log line
		}
		if s.SpanContext.TraceID != trace {
			t.Errorf("span %s of trace %s; only the sampled caller's trace should be recorded", s.Name, s.SpanContext.TraceID)
		}
		names[s.Name] = s
	}
	server := names["POST /v1/clusters/:cluster/groups/:group/brokers"]
	if server.Parent.SpanID != "00f067aa0ba902b7" {
		t.Fatalf("no server span below the caller's; spans: %v\n%s", names, p.out)
	}
	if names["ledgerless.register"].Parent.SpanID != server.SpanContext.SpanID {
		t.Errorf("no register span below the server span; spans: %v", names)
	}
	if _, ok := names["etcdserverpb.KV/Txn"]; !ok {
		t.Errorf("no etcd span; spans: %v", names)
	}
	res := map[string]any{}
	for _, kv := range server.Resource {
		res[kv.Key] = kv.Value.Value
	}
	if res["service.name"] != "ledgerless" || res["service.instance.id"] != "one" || res["service.version"] != "dev" {
		t.Errorf("resource %v", res)
	}
}
