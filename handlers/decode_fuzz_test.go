package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
)

// The request decoders' fuzz targets. Whatever the input, a decoder either
// accepts it, answering nothing, or answers a 400 or 413 INVALID_REQUEST
// problem; it never panics. The seed corpus is in testdata/fuzz.

var fuzzEngine = func() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	return gin.New()
}()

// testContext returns a gin context for a request with query and body.
func testContext(query string, body []byte) (*gin.Context, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	c := gin.CreateTestContextOnly(rec, fuzzEngine)
	c.Request = &http.Request{Method: "POST", URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(body))}
	return c, rec
}

// refused checks that rec holds a 4xx INVALID_REQUEST problem.
func refused(t *testing.T, rec *httptest.ResponseRecorder, input any) {
	t.Helper()
	if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("%q: refused with %d", input, rec.Code)
	}
	if ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); ct != "application/problem+json" {
		t.Fatalf("%q: refused with Content-Type %q", input, ct)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != "INVALID_REQUEST" || p.Status != rec.Code || p.Detail == "" {
		t.Fatalf("%q: refused with %s (%v)", input, rec.Body, err)
	}
}

// fuzzBody fuzzes decoding a body into a T: an accepted body decodes to
// the same value without the strictness (unknown fields, trailing data).
func fuzzBody[T any](f *testing.F, optional bool) {
	f.Fuzz(func(t *testing.T, body []byte) {
		c, rec := testContext("", body)
		var strict T
		if !decodeBody(c, &strict, optional) {
			refused(t, rec, body)
			return
		}
		if c.IsAborted() || rec.Body.Len() > 0 {
			t.Fatalf("%q: accepted, but answered %d %s", body, rec.Code, rec.Body)
		}
		if optional && len(bytes.TrimSpace(body)) == 0 {
			return
		}
		var lenient T
		if err := json.Unmarshal(body, &lenient); err != nil {
			t.Fatalf("%q: accepted, but it is not JSON of the request: %v", body, err)
		}
		if !reflect.DeepEqual(strict, lenient) {
			t.Fatalf("%q: decoded as %+v, but as %+v without strictness", body, strict, lenient)
		}
	})
}

func FuzzDecodeRegister(f *testing.F)  { fuzzBody[registerRequest](f, false) }
func FuzzDecodeHeartbeat(f *testing.F) { fuzzBody[heartbeatRequest](f, false) }
func FuzzDecodeAlter(f *testing.F)     { fuzzBody[alterRequest](f, false) }
func FuzzDecodeElect(f *testing.F)     { fuzzBody[electRequest](f, true) }

// FuzzDecodeConfigPatch: a merge patch is refused as INVALID_REQUEST, or
// its application to the defaults gives a valid configuration.
func FuzzDecodeConfigPatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		c, rec := testContext("", body)
		var patch map[string]json.RawMessage
		if !decode(c, &patch) {
			refused(t, rec, body)
			return
		}
		apply, err := configPatch(patch)
		if err != nil {
			if !errors.Is(err, ledgerless.ErrInvalidRequest) {
				t.Fatalf("%q: refused with %v, not an invalid request", body, err)
			}
			return
		}
		cfg := ledgerless.DefaultRuntimeConfig()
		if err := apply(&cfg); err != nil {
			t.Fatalf("%q: accepted, but applying it failed: %v", body, err)
		}
		if d := cfg.DefaultHeartbeatTimeout; d < ledgerless.MinHeartbeatTimeout || d > ledgerless.MaxHeartbeatTimeout {
			t.Fatalf("%q: accepted a heartbeat timeout of %s", body, d)
		}
	})
}

// FuzzLongPoll: ?index=&wait= is refused, or gives a non-negative index
// and a wait within (0, MaxWait], or no wait at all without either.
func FuzzLongPoll(f *testing.F) {
	f.Fuzz(func(t *testing.T, query string) {
		c, rec := testContext(query, nil)
		index, wait, ok := longPoll(c)
		if !ok {
			refused(t, rec, query)
			return
		}
		_, hasIndex := c.GetQuery("index")
		_, hasWait := c.GetQuery("wait")
		switch {
		case index < 0 || wait < 0 || wait > service.MaxWait:
			t.Fatalf("%q: index %d, wait %s", query, index, wait)
		case (wait == 0) != (!hasIndex && !hasWait):
			t.Fatalf("%q: wait %s with index given %v, wait given %v", query, wait, hasIndex, hasWait)
		}
	})
}
