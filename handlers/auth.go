package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
)

// Option configures the API beyond its defaults.
type Option func(*Handler)

// WithAuth turns authentication on: every call but /healthz and /readyz
// needs a caller known to a, by bearer token or by verified client
// certificate, whose role allows the call (see routeAccess).
func WithAuth(a *auth.Authenticator) Option { return func(h *Handler) { h.auth = a } }

// routeAccess is what each route requires of its caller when
// authentication is on. A route missing here requires an admin; an
// unknown route requires a known caller, so that only callers learn
// which routes exist.
var routeAccess = map[string]auth.Access{
	"GET /healthz":         auth.Public,
	"GET /readyz":          auth.Public,
	"GET /metrics":         auth.Read,
	"GET /v1/openapi.json": auth.Authenticated,
	"GET /v1/clusters":     auth.Read,
	"GET /v1/controller":   auth.Read,
	"GET /v1/whoami":       auth.Authenticated,
	"GET /v1/config":       auth.Read,
	"PATCH /v1/config":     auth.Admin,

	"GET /v1/clusters/:cluster/groups":                              auth.Read,
	"GET /v1/clusters/:cluster/groups/:group":                       auth.GroupRead,
	"POST /v1/clusters/:cluster/groups/:group/brokers":              auth.GroupWrite,
	"PUT /v1/clusters/:cluster/groups/:group/brokers/:id/heartbeat": auth.GroupWrite,
	"DELETE /v1/clusters/:cluster/groups/:group/brokers/:id/lease":  auth.GroupWrite,
	"POST /v1/clusters/:cluster/groups/:group/sync-state-set":       auth.GroupWrite,
	"GET /v1/clusters/:cluster/groups/:group/history":               auth.Read,
	"POST /v1/clusters/:cluster/groups/:group/elect":                auth.Admin,
	"DELETE /v1/clusters/:cluster/groups/:group/brokers/:id":        auth.Admin,
	"DELETE /v1/clusters/:cluster/groups/:group":                    auth.Admin,
}

func accessOf(method, route string) auth.Access {
	if route == "" {
		return auth.Authenticated
	}
	if a, ok := routeAccess[method+" "+route]; ok {
		return a
	}
	return auth.Admin
}

// Why a caller is unknown (the reason Metrics.AuthFailure is told; a
// known caller's refusal is "forbidden"), and the 401 problem's detail.
var refusals = map[string]string{
	"missing":             "send Authorization: Bearer <token>, or a client certificate",
	"malformed":           "the request needs exactly one Authorization header, of the form Bearer <token>",
	"invalid_token":       "the bearer token is not known",
	"unknown_certificate": "the client certificate's subject has no role",
}

// authorize is the middleware that refuses unknown callers with 401 and
// callers whose role does not allow the route with 403.
func (h *Handler) authorize() gin.HandlerFunc {
	return func(c *gin.Context) {
		access := accessOf(c.Request.Method, c.FullPath())
		if access == auth.Public {
			return
		}
		p, reason := caller(h.auth.Credentials(), c.Request)
		var err error
		switch g := (ledgerless.GroupKey{Cluster: c.Param("cluster"), Group: c.Param("group")}); {
		case p == nil:
			err = fmt.Errorf("%w: %s", ledgerless.ErrUnauthenticated, refusals[reason])
		case !p.Allows(access, g):
			reason = "forbidden"
			err = fmt.Errorf("%w: %s %q may not %s %s", ledgerless.ErrForbidden, p.Role, p.Name, c.Request.Method, c.Request.URL.Path)
			if p.Role == auth.RoleBroker && (access == auth.GroupRead || access == auth.GroupWrite) {
				err = fmt.Errorf("%w: broker %q is not scoped to group %s", ledgerless.ErrForbidden, p.Name, g)
			}
		default:
			c.Set(principalKey, p)
			return
		}
		h.metrics.AuthFailure(reason)
		name := ""
		if p != nil {
			name = p.Name
		}
		h.log.WarnContext(c.Request.Context(), "request refused", "reason", reason, "caller", name,
			"method", c.Request.Method, "path", c.Request.URL.Path, "remote", c.Request.RemoteAddr)
		h.fail(c, err)
	}
}

// caller finds who sent r: the bearer token's owner when r has an
// Authorization header, else the verified client certificate's. It
// returns the refusal reason when there is no known caller.
func caller(creds *auth.Credentials, r *http.Request) (*auth.Principal, string) {
	if header := r.Header.Values("Authorization"); len(header) > 0 {
		token, ok := bearer(header)
		if !ok {
			return nil, "malformed"
		}
		if p, ok := creds.Token(token); ok {
			return p, ""
		}
		return nil, "invalid_token"
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		if p, ok := creds.Certificate(r.TLS.VerifiedChains[0][0]); ok {
			return p, ""
		}
		return nil, "unknown_certificate"
	}
	return nil, "missing"
}

// bearer returns the token of the one Authorization header "Bearer
// <token>"; the scheme is case-insensitive (RFC 9110). net/http has
// trimmed the spaces around the value.
func bearer(header []string) (string, bool) {
	if len(header) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(header[0], " ")
	token = strings.TrimLeft(token, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
