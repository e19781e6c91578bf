package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"sigs.k8s.io/yaml"

	"github.com/ledgerless/ledgerless/handlers"
	"github.com/ledgerless/ledgerless/internal/openapitest"
	"github.com/ledgerless/ledgerless/metrics"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// The handler tests send every request through openAPICheck, which
// validates it and its response against openapi.yaml: a successful request
// must be one the document allows, and every response (problems included)
// must be one it describes. Violations fail the test binary, and so does an
// operation of the document that no test exercised.

type openAPIChecker struct {
	doc    *openapi3.T
	router routers.Router

	mu         sync.Mutex
	violations []string
	exercised  map[string]bool // "METHOD path" of operations answered 2xx
}

var openAPICheck = newOpenAPIChecker()

func newOpenAPIChecker() *openAPIChecker {
	for _, ct := range []string{"application/problem+json", "application/merge-patch+json"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.JSONBodyDecoder)
	}
	doc, err := openapitest.Document()
	if err != nil {
		panic(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		panic(err)
	}
	return &openAPIChecker{doc: doc, router: router, exercised: map[string]bool{}}
}

func (c *openAPIChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	return checked{c, http.DefaultTransport}.RoundTrip(req)
}

// checked sends requests with next and checks them with c.
type checked struct {
	c    *openAPIChecker
	next http.RoundTripper
}

func (t checked) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, err
	}
	t.c.check(req, reqBody, resp, respBody)
	return resp, nil
}

func (c *openAPIChecker) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	ok := resp.StatusCode < 300
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// Only unknown routes and methods may be missing from the document,
		// and the 401 that hides them from unknown callers.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed &&
			resp.StatusCode != http.StatusUnauthorized {
			c.violate("%s %s: answered %d but not in the document: %v", req.Method, req.URL, resp.StatusCode, err)
		}
		return
	}
	ctx := context.Background()
	validation := *req
	validation.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: &validation, PathParams: params, Route: route,
		// Who may call what is the auth tests' to check, not the document's.
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if ok {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			c.violate("%s %s %s: accepted (%d) but the document forbids it: %v", req.Method, req.URL, reqBody, resp.StatusCode, err)
		}
		c.mu.Lock()
		c.exercised[req.Method+" "+route.Path] = true
		c.mu.Unlock()
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(respBody))}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.violate("%s %s: response %d %s does not match the document: %v", req.Method, req.URL, resp.StatusCode, respBody, err)
	}
}

func (c *openAPIChecker) violate(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = append(c.violations, fmt.Sprintf(format, args...))
}

// report prints violations and unexercised operations after a full run;
// it returns false when there are any.
func (c *openAPIChecker) report() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	problems := slices.Clone(c.violations)
	if f := flag.Lookup("test.run"); f == nil || f.Value.String() == "" {
		for path, item := range c.doc.Paths.Map() {
			for method := range item.Operations() {
				if !c.exercised[method+" "+path] {
					problems = append(problems, fmt.Sprintf("%s %s: no test got a 2xx from it", method, path))
				}
			}
		}
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "openapi:", p)
	}
	return len(problems) == 0
}

// TestOpenAPIDocumentsEveryRoute checks that the router serves nothing the
// document leaves out, and that the served document is openapi.yaml.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	svc := service.New(service.Options{Store: storetest.Open(t, storetest.Prefix(t)), ReplicaID: "r1"})
	engine, ok := handlers.New(svc, slog.New(slog.DiscardHandler), metrics.New(), nil).(*gin.Engine)
	if !ok {
		t.Fatal("handlers.New is not a gin engine")
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	for _, r := range engine.Routes() {
		path := strings.TrimSuffix(param.ReplaceAllString(r.Path, "{$1}"), "/")
		item := openAPICheck.doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in openapi.yaml", r.Method, path)
		}
	}

	base := newServer(t)
	served, _ := call(t, http.StatusOK, "GET", base+"/v1/openapi.json", "")
	src, _ := os.ReadFile("openapi.yaml")
	want, err := yaml.YAMLToJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(served)
	var a, b any
	_ = json.Unmarshal(want, &a)
	_ = json.Unmarshal(got, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("/v1/openapi.json is not openapi.yaml")
	}
}
