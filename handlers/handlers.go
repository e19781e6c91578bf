// Package handlers serves ledgerless's REST API v1 with gin: routes, the
// JSON request and response types, input validation, and the one mapping
// from service errors to RFC 9457 problem details.
package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/internal/ratelog"
	"github.com/ledgerless/ledgerless/service"
)

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
const MaxBodyBytes = 1 << 20

// IndexHeader carries a group's long-poll index on every group response.
const IndexHeader = "X-Ledgerless-Index"

// Handler serves the API of one replica.
type Handler struct {
	svc     *service.Service
	log     *slog.Logger
	metrics Metrics
	auth    *auth.Authenticator // nil: every caller may do everything
	// failures limits the "request failed" lines to one per kind and
	// failureLogInterval.
	failures *ratelog.Limiter
}

// New returns the API's http.Handler for svc. With a tracer provider
// (nil: tracing off) every request but probes and scrapes is a server span.
func New(svc *service.Service, log *slog.Logger, metrics Metrics, tp trace.TracerProvider, opts ...Option) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	h := &Handler{svc: svc, log: log, metrics: metrics, failures: ratelog.New(failureLogInterval, nil)}
	for _, o := range opts {
		o(h)
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Route on the raw path, so that an escaped "/" stays inside its path
	// segment (and fails name validation) instead of reaching another route.
	r.UseRawPath = true
	r.UnescapePathValues = true
	r.ContextWithFallback = true
	if tp != nil {
		r.Use(tracingMiddleware(tp))
	}
	r.Use(gin.CustomRecovery(func(c *gin.Context, err any) {
		h.log.ErrorContext(c.Request.Context(), "panic serving request", "path", c.Request.URL.Path, "panic", err)
		h.fail(c, fmt.Errorf("internal error"))
	}), metricsMiddleware(metrics))
	if h.auth != nil {
		r.Use(h.authorize())
	}
	r.NoRoute(func(c *gin.Context) { invalid(c, http.StatusNotFound, "no such route: "+c.Request.URL.Path) })
	r.NoMethod(func(c *gin.Context) {
		invalid(c, http.StatusMethodNotAllowed, c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	r.GET("/healthz", func(c *gin.Context) { writeJSON(c, http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", h.ready)
	r.GET("/metrics", gin.WrapH(metrics.Handler()))

	v1 := r.Group("/v1")
	v1.GET("/clusters", h.clusters)
	v1.GET("/clusters/:cluster/groups", h.groups)
	grp := v1.Group("/clusters/:cluster/groups/:group")
	grp.GET("", h.group)
	grp.POST("/brokers", h.register)
	grp.PUT("/brokers/:id/heartbeat", h.heartbeat)
	grp.DELETE("/brokers/:id/lease", h.resign)
	v1.GET("/openapi.json", serveOpenAPI)
	v1.GET("/controller", h.controller)
	v1.GET("/whoami", h.whoami)
	v1.GET("/config", h.config)
	v1.PATCH("/config", h.patchConfig)
	h.electionRoutes(grp)
	return r
}

func (h *Handler) ready(c *gin.Context) {
	if err := h.svc.Ready(c.Request.Context()); err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"status": "ready"})
}

// groupKey reads and validates the :cluster and :group path segments.
func groupKey(c *gin.Context) (ledgerless.GroupKey, bool) {
	k := ledgerless.GroupKey{Cluster: c.Param("cluster"), Group: c.Param("group")}
	if err := k.Validate(); err != nil {
		invalid(c, http.StatusBadRequest, err.Error())
		return k, false
	}
	return k, true
}

// brokerID reads and validates the :id path segment: a positive integer.
func brokerID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		invalid(c, http.StatusBadRequest, fmt.Sprintf("broker id %q is not a positive integer", c.Param("id")))
		return 0, false
	}
	return id, true
}

// brokerPath reads and validates the :cluster, :group and :id segments.
func brokerPath(c *gin.Context) (ledgerless.GroupKey, int64, bool) {
	g, ok := groupKey(c)
	if !ok {
		return g, 0, false
	}
	id, ok := brokerID(c)
	return g, id, ok
}

// noContent answers 204, or the problem for err.
func (h *Handler) noContent(c *gin.Context, err error) {
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// decode reads a JSON body of at most MaxBodyBytes into v, strictly: one
// object, no unknown fields, no trailing data. It answers the problem itself
// and returns false on bad input.
func decode(c *gin.Context, v any) bool { return decodeBody(c, v, false) }

// decodeOptional is decode for a body that may be empty.
func decodeOptional(c *gin.Context, v any) bool { return decodeBody(c, v, true) }

func decodeBody(c *gin.Context, v any, optional bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			invalid(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
			return false
		}
		invalid(c, http.StatusBadRequest, "reading request body: "+err.Error())
		return false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		invalid(c, http.StatusBadRequest, "request body: "+jsonError(err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		invalid(c, http.StatusBadRequest, "request body: data after the JSON object")
		return false
	}
	return true
}

func jsonError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type)
	}
	if errors.Is(err, io.EOF) {
		return "empty; a JSON object is required"
	}
	return err.Error()
}

// field is a named optional number of a request, for validation.
type field struct {
	name string
	v    *int64
}

// nonNegative checks optional numeric fields; it returns a detail on error.
func nonNegative(fields ...field) string {
	for _, f := range fields {
		if f.v != nil && *f.v < 0 {
			return fmt.Sprintf("%s must not be negative", f.name)
		}
	}
	return ""
}
