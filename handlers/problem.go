package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
)

// problemType prefixes every problem's type URI; the suffix is its code.
const problemType = "urn:ledgerless:problem:"

// Problem is an RFC 9457 problem detail with the RocketMQ condition.
type Problem struct {
	Type         string `json:"type"`
	Title        string `json:"title"`
	Status       int    `json:"status"`
	Detail       string `json:"detail,omitempty"`
	Instance     string `json:"instance,omitempty"`
	Code         string `json:"code"`
	RocketMQCode int    `json:"rocketmqCode"`
}

// condition is the HTTP side of one ledgerless.Condition: the status and
// title of its problem. Its name and RocketMQ number come from the
// condition table of package ledgerless, shared with the remoting protocol.
type condition struct {
	err    error
	status int
	title  string
}

// conditions maps each sentinel error to its HTTP status.
var conditions = []condition{
	{ledgerless.ErrFencedMasterEpoch, http.StatusConflict, "Master epoch is fenced"},
	{ledgerless.ErrFencedSyncStateSetEpoch, http.StatusConflict, "SyncStateSet epoch is fenced"},
	{ledgerless.ErrInvalidMaster, http.StatusConflict, "Not the current master"},
	{ledgerless.ErrInvalidReplicas, http.StatusConflict, "Invalid replicas"},
	{ledgerless.ErrMasterNotAvailable, http.StatusConflict, "Master not available"},
	{ledgerless.ErrInvalidRequest, http.StatusBadRequest, "Invalid request"},
	{ledgerless.ErrBrokerNotAlive, http.StatusConflict, "Broker not alive"},
	{ledgerless.ErrBrokerMetadataNotExist, http.StatusNotFound, "Group does not exist"},
	{ledgerless.ErrInvalidCleanBrokerMeta, http.StatusConflict, "Cannot clean broker metadata"},
	{ledgerless.ErrBrokerNeedToBeRegistered, http.StatusNotFound, "Broker is not registered"},
	{ledgerless.ErrMasterStillExist, http.StatusConflict, "Master still exists"},
	{ledgerless.ErrElectMasterFailed, http.StatusConflict, "Election failed"},
	{ledgerless.ErrAlterSyncStateSetFailed, http.StatusConflict, "SyncStateSet change refused"},
	{ledgerless.ErrBrokerIDInvalid, http.StatusConflict, "Broker id does not match its registerCode"},
	{ledgerless.ErrTooManyBrokers, http.StatusConflict, "Group has too many brokers"},
	{ledgerless.ErrTooManyLongPolls, http.StatusServiceUnavailable, "Too many long polls"},
	{ledgerless.ErrPreconditionFailed, http.StatusPreconditionFailed, "Precondition failed"},
	{ledgerless.ErrUnauthenticated, http.StatusUnauthorized, "Authentication required"},
	{ledgerless.ErrForbidden, http.StatusForbidden, "Not allowed for this caller"},
	{ledgerless.ErrUnavailable, http.StatusServiceUnavailable, "etcd is unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "etcd is unavailable"},
	{context.Canceled, http.StatusServiceUnavailable, "Request canceled"},
}

// problemFor maps an error to its problem; unknown errors are 500s.
func problemFor(err error) Problem {
	for _, c := range conditions {
		if errors.Is(err, c.err) {
			cond, _ := ledgerless.ConditionOf(c.err)
			return Problem{Type: problemType + strings.ToLower(cond.Code), Title: c.title, Status: c.status,
				Detail: err.Error(), Code: cond.Code, RocketMQCode: cond.RocketMQ}
		}
	}
	return Problem{Type: problemType + "internal", Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: err.Error(), Code: "INTERNAL", RocketMQCode: ledgerless.RocketMQSystemError}
}

// statusClientClosedRequest is what the metrics record for a request
// whose client hung up before its answer (nginx's 499): not a failure of
// the replica, and nobody reads the answer.
const statusClientClosedRequest = 499

// failureLogInterval is how often a failure of one kind (route and
// problem code) is logged; an etcd outage fails every request alike.
const failureLogInterval = 10 * time.Second

// fail answers c with the problem for err. Server-side failures are
// logged here, once, and at most one line per kind per failureLogInterval
// with the count of those held back; client errors are the client's to
// read, and so is a refused long poll (the refusals of an overload would
// flood the log). A client that hung up gets neither an answer nor a line.
func (h *Handler) fail(c *gin.Context, err error) {
	if errors.Is(c.Request.Context().Err(), context.Canceled) {
		c.AbortWithStatus(statusClientClosedRequest)
		return
	}
	p := problemFor(err)
	if p.Status >= 500 && !errors.Is(err, ledgerless.ErrTooManyLongPolls) {
		if suppressed, ok := h.failures.Allow(c.Request.Method + " " + routeOf(c) + " " + p.Code); ok {
			h.log.WarnContext(c.Request.Context(), "request failed", "method", c.Request.Method,
				"path", c.Request.URL.Path, "status", p.Status, "err", err, "suppressed", suppressed)
		}
	}
	writeProblem(c, p)
}

func writeProblem(c *gin.Context, p Problem) {
	p.Instance = c.Request.URL.Path
	switch p.Status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="ledgerless"`)
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", "1")
	}
	c.Header("Content-Type", "application/problem+json")
	c.Abort()
	writeJSON(c, p.Status, p)
}

// invalid answers INVALID_REQUEST with the given status and detail: 400,
// or the status of a request that no route takes (404, 405) or that is
// too large (413), whose title names that status.
func invalid(c *gin.Context, status int, detail string) {
	title := "Invalid request"
	if status != http.StatusBadRequest {
		title = http.StatusText(status)
	}
	writeProblem(c, Problem{Type: problemType + "invalid_request", Title: title, Status: status,
		Detail: detail, Code: "INVALID_REQUEST", RocketMQCode: ledgerless.RocketMQInvalidRequest})
}
