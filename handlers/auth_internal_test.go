package handlers

import (
	"log/slog"
	"net/http"
	"regexp"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/metrics"
	"github.com/ledgerless/ledgerless/service"
)

// TestEveryRouteHasAnAccess keeps routeAccess and the router in step: a
// route added without an entry would need an admin, and an entry left
// behind by a removed route would mislead its readers.
func TestEveryRouteHasAnAccess(t *testing.T) {
	engine := New(service.New(service.Options{}), slog.New(slog.DiscardHandler), metrics.New(), nil).(*gin.Engine)
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		key := r.Method + " " + r.Path
		served[key] = true
		if _, ok := routeAccess[key]; !ok {
			t.Errorf("route %s has no entry in routeAccess", key)
		}
	}
	for key := range routeAccess {
		if !served[key] {
			t.Errorf("routeAccess has %s, which is not a route", key)
		}
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		header []string
		token  string
	}{
		{[]string{"Bearer abc"}, "abc"},
		{[]string{"bearer abc"}, "abc"},
		{[]string{"BEARER abc"}, "abc"},
		{[]string{"Bearer   abc"}, "abc"},
		{[]string{" Bearer abc"}, ""},
		{[]string{"Bearer abc "}, ""},
		{[]string{"Bearer a.b-c_d~e+f/g=="}, "a.b-c_d~e+f/g=="},
		{[]string{"Bearer"}, ""},
		{[]string{"Bearer "}, ""},
		{[]string{"Bearer a b"}, ""},
		{[]string{"Bearer a\tb"}, ""},
		{[]string{"Basic abc"}, ""},
		{[]string{"Bearerabc"}, ""},
		{[]string{"abc"}, ""},
		{[]string{""}, ""},
		{[]string{"Bearer abc", "Bearer abc"}, ""},
	} {
		token, ok := bearer(tc.header)
		if token != tc.token || ok != (tc.token != "") {
			t.Errorf("bearer(%q) = %q, %v; want %q", tc.header, token, ok, tc.token)
		}
	}
}

// FuzzAuthorization: whatever the Authorization header, the caller is the
// admin exactly when the header is its bearer token, and nobody else.
func FuzzAuthorization(f *testing.F) {
	const token = "fuzz-admin-token-0123456789"
	creds, err := auth.Parse([]byte("tokens: [{name: ops, role: admin, sha256: " + auth.HashToken(token) + "}]"))
	if err != nil {
		f.Fatal(err)
	}
	exactBearer := regexp.MustCompile(`^(?i:bearer) +` + regexp.QuoteMeta(token) + `$`)
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Authorization": {header}}}
		p, reason := caller(creds, r)
		if want := exactBearer.MatchString(header); (p != nil) != want {
			t.Fatalf("header %q: caller %v (%s), want known %v", header, p, reason, want)
		}
		if p == nil && reason != "malformed" && reason != "invalid_token" {
			t.Fatalf("header %q: refused as %q", header, reason)
		}
		if _, ok := refusals[reason]; p == nil && !ok {
			t.Fatalf("reason %q is not a refusal", reason)
		}
	})
}
