package client

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCodeHasASentinel: each problem code the API documents, but
// INTERNAL, matches a sentinel error.
func TestEveryCodeHasASentinel(t *testing.T) {
	spec, err := os.ReadFile("../handlers/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)code:\s*type: string\s*enum: \[([^\]]*)\]`).FindSubmatch(spec)
	if m == nil {
		t.Fatal("no enum of problem codes in the OpenAPI document")
	}
	n := 0
	for _, code := range strings.Split(string(m[1]), ",") {
		code = strings.TrimSpace(code)
		if code == "INTERNAL" {
			continue
		}
		n++
		if _, ok := codes[code]; !ok {
			t.Errorf("code %s has no sentinel error", code)
		}
	}
	if n != len(codes) {
		t.Errorf("the API documents %d codes, the client knows %d", n, len(codes))
	}
}
