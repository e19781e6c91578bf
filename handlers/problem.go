package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

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

type condition struct {
	err    error
	status int
	code   string
	rmq    int
	title  string
}

// conditions maps each sentinel error to its HTTP status and RocketMQ code.
var conditions = []condition{
	{ledgerless.ErrFencedMasterEpoch, http.StatusConflict, "FENCED_MASTER_EPOCH", 2000, "Master epoch is fenced"},
	{ledgerless.ErrFencedSyncStateSetEpoch, http.StatusConflict, "FENCED_SYNC_STATE_SET_EPOCH", 2001, "SyncStateSet epoch is fenced"},
	{ledgerless.ErrInvalidMaster, http.StatusConflict, "INVALID_MASTER", 2002, "Not the current master"},
	{ledgerless.ErrInvalidReplicas, http.StatusConflict, "INVALID_REPLICAS", 2003, "Invalid replicas"},
	{ledgerless.ErrMasterNotAvailable, http.StatusConflict, "MASTER_NOT_AVAILABLE", 2004, "Master not available"},
	{ledgerless.ErrInvalidRequest, http.StatusBadRequest, "INVALID_REQUEST", 2005, "Invalid request"},
	{ledgerless.ErrBrokerNotAlive, http.StatusConflict, "BROKER_NOT_ALIVE", 2006, "Broker not alive"},
	{ledgerless.ErrBrokerMetadataNotExist, http.StatusNotFound, "BROKER_METADATA_NOT_EXIST", 2008, "Group does not exist"},
	{ledgerless.ErrInvalidCleanBrokerMeta, http.StatusConflict, "INVALID_CLEAN_BROKER_METADATA", 2009, "Cannot clean broker metadata"},
	{ledgerless.ErrBrokerNeedToBeRegistered, http.StatusNotFound, "BROKER_NEED_TO_BE_REGISTERED", 2010, "Broker is not registered"},
	{ledgerless.ErrMasterStillExist, http.StatusConflict, "MASTER_STILL_EXIST", 2011, "Master still exists"},
	{ledgerless.ErrElectMasterFailed, http.StatusConflict, "ELECT_MASTER_FAILED", 2012, "Election failed"},
	{ledgerless.ErrAlterSyncStateSetFailed, http.StatusConflict, "ALTER_SYNC_STATE_SET_FAILED", 2013, "SyncStateSet change refused"},
	{ledgerless.ErrBrokerIDInvalid, http.StatusConflict, "BROKER_ID_INVALID", 2014, "Broker id does not match its registerCode"},
	// ledgerless's own conditions. RocketMQ has no code for a full group;
	// 2005 (invalid request) is the nearest a broker understands.
	{ledgerless.ErrTooManyBrokers, http.StatusConflict, "TOO_MANY_BROKERS", 2005, "Group has too many brokers"},
	{ledgerless.ErrTooManyLongPolls, http.StatusServiceUnavailable, "TOO_MANY_LONG_POLLS", 2, "Too many long polls"},
	{ledgerless.ErrUnauthenticated, http.StatusUnauthorized, "UNAUTHORIZED", 16, "Authentication required"},
	{ledgerless.ErrForbidden, http.StatusForbidden, "FORBIDDEN", 16, "Not allowed for this caller"},
	{ledgerless.ErrUnavailable, http.StatusServiceUnavailable, "UNAVAILABLE", 1, "etcd is unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "UNAVAILABLE", 1, "etcd is unavailable"},
	{context.Canceled, http.StatusServiceUnavailable, "UNAVAILABLE", 1, "Request canceled"},
}

// problemFor maps an error to its problem; unknown errors are 500s.
func problemFor(err error) Problem {
	for _, c := range conditions {
		if errors.Is(err, c.err) {
			return Problem{Type: problemType + strings.ToLower(c.code), Title: c.title, Status: c.status,
				Detail: err.Error(), Code: c.code, RocketMQCode: c.rmq}
		}
	}
	return Problem{Type: problemType + "internal", Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: err.Error(), Code: "INTERNAL", RocketMQCode: 1}
}

// fail answers c with the problem for err. Server-side failures are
// logged here, once; client errors are the client's to read, and so is a
// refused long poll (the refusals of an overload would flood the log).
func (h *Handler) fail(c *gin.Context, err error) {
	p := problemFor(err)
	if p.Status >= 500 && !errors.Is(err, ledgerless.ErrTooManyLongPolls) {
		h.log.WarnContext(c.Request.Context(), "request failed", "method", c.Request.Method,
			"path", c.Request.URL.Path, "status", p.Status, "err", err)
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
	c.AbortWithStatusJSON(p.Status, p)
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
		Detail: detail, Code: "INVALID_REQUEST", RocketMQCode: 2005})
}
