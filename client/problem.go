package client

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/ledgerless/ledgerless"
)

// Problem is an RFC 9457 problem detail as the controller answers it, with
// the RocketMQ condition in Code and RocketMQCode. A *Problem is the error
// of every answer with a 4xx or 5xx status. errors.Is matches it against
// the sentinel error of its code in package ledgerless, so that a broker
// can write
//
//	if errors.Is(err, ledgerless.ErrFencedSyncStateSetEpoch) { ... re-read ... }
type Problem struct {
	Type         string `json:"type"`
	Title        string `json:"title"`
	Status       int    `json:"status"`
	Detail       string `json:"detail"`
	Instance     string `json:"instance"`
	Code         string `json:"code"`
	RocketMQCode int    `json:"rocketmqCode"`
}

// Error reads "<title> (<code>): <detail>".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Title)
	if p.Title == "" {
		fmt.Fprintf(&b, "HTTP %d", p.Status)
	}
	if p.Code != "" {
		fmt.Fprintf(&b, " (%s)", p.Code)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	return b.String()
}

// Is reports whether target is the sentinel error of p's code.
func (p *Problem) Is(target error) bool {
	err, ok := codes[p.Code]
	return ok && err == target
}

// Refused reports whether the controller refused the request (a 4xx
// answer): sending it again unchanged will not help.
func (p *Problem) Refused() bool { return p.Status >= 400 && p.Status < 500 }

// codes maps each problem code of the API to its sentinel error.
var codes = map[string]error{
	"FENCED_MASTER_EPOCH":           ledgerless.ErrFencedMasterEpoch,
	"FENCED_SYNC_STATE_SET_EPOCH":   ledgerless.ErrFencedSyncStateSetEpoch,
	"INVALID_MASTER":                ledgerless.ErrInvalidMaster,
	"INVALID_REPLICAS":              ledgerless.ErrInvalidReplicas,
	"MASTER_NOT_AVAILABLE":          ledgerless.ErrMasterNotAvailable,
	"INVALID_REQUEST":               ledgerless.ErrInvalidRequest,
	"BROKER_NOT_ALIVE":              ledgerless.ErrBrokerNotAlive,
	"BROKER_METADATA_NOT_EXIST":     ledgerless.ErrBrokerMetadataNotExist,
	"INVALID_CLEAN_BROKER_METADATA": ledgerless.ErrInvalidCleanBrokerMeta,
	"BROKER_NEED_TO_BE_REGISTERED":  ledgerless.ErrBrokerNeedToBeRegistered,
	"MASTER_STILL_EXIST":            ledgerless.ErrMasterStillExist,
	"ELECT_MASTER_FAILED":           ledgerless.ErrElectMasterFailed,
	"ALTER_SYNC_STATE_SET_FAILED":   ledgerless.ErrAlterSyncStateSetFailed,
	"BROKER_ID_INVALID":             ledgerless.ErrBrokerIDInvalid,
	"UNAVAILABLE":                   ledgerless.ErrUnavailable,
	"TOO_MANY_BROKERS":              ledgerless.ErrTooManyBrokers,
	"TOO_MANY_LONG_POLLS":           ledgerless.ErrTooManyLongPolls,
	"UNAUTHORIZED":                  ledgerless.ErrUnauthenticated,
	"FORBIDDEN":                     ledgerless.ErrForbidden,
	"PRECONDITION_FAILED":           ledgerless.ErrPreconditionFailed,
}

// problemOf reads the problem detail of an error answer; an answer that is
// not one (a proxy's page, say) becomes a problem naming the HTTP status.
func problemOf(resp *http.Response, body []byte) *Problem {
	var p Problem
	media, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (media == "application/problem+json" || media == "application/json") &&
		json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Code != "") {
		p.Status = resp.StatusCode // what the answer's status line says decides
		return &p
	}
	detail := strings.TrimSpace(string(body))
	if len(detail) > 200 {
		detail = detail[:200] + "..."
	}
	return &Problem{Title: resp.Status, Status: resp.StatusCode, Detail: detail}
}
