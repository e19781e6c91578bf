package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
)

// DefaultWait is a long poll's wait when only index is given.
const DefaultWait = 30 * time.Second

func (h *Handler) group(c *gin.Context) {
	g, ok := groupKey(c)
	if !ok {
		return
	}
	index, wait, ok := longPoll(c)
	if !ok {
		return
	}
	broker, ok := pollingBroker(c)
	if !ok {
		return
	}
	var ans service.Answer
	var err error
	if wait > 0 {
		ctx := c.Request.Context()
		if broker != 0 {
			// The broker's long poll is its crash signal: abandoned
			// before its answer, the broker is suspect.
			release := h.svc.Hold(g, broker)
			defer func() {
				if ctx.Err() != nil {
					release(service.EndLost)
				} else {
					release(service.EndAnswered)
				}
			}()
		}
		ans, err = h.svc.WaitGroup(ctx, g, index, wait)
	} else {
		ans.Group, err = h.svc.Group(c.Request.Context(), g)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeAnswer(c, ans)
}

// writeAnswer writes a group answer. The long polls that one change wakes
// share its encoding: each answer only writes the same bytes.
func (h *Handler) writeAnswer(c *gin.Context, ans service.Answer) {
	body, err := ans.Encoded(encodeGroup)
	if err != nil {
		h.fail(c, fmt.Errorf("encode group %s: %w", ans.Key, err))
		return
	}
	c.Header(IndexHeader, strconv.FormatInt(ans.Index, 10))
	c.Data(http.StatusOK, jsonContentType, body)
}

// jsonContentType is the Content-Type of every JSON answer.
const jsonContentType = "application/json; charset=utf-8"

// encodeGroup encodes a group answer, ending with a newline as every JSON
// answer does.
func encodeGroup(grp *ledgerless.Group) ([]byte, error) {
	body, err := json.Marshal(toGroup(grp))
	return append(body, '\n'), err
}

// longPoll parses ?index=N&wait=D. wait is 0 for a plain read; it defaults
// to DefaultWait when index is given, and is capped at service.MaxWait.
func longPoll(c *gin.Context) (index int64, wait time.Duration, ok bool) {
	is, hasIndex := c.GetQuery("index")
	ws, hasWait := c.GetQuery("wait")
	if !hasIndex && !hasWait {
		return 0, 0, true
	}
	if hasIndex {
		var err error
		if index, err = strconv.ParseInt(is, 10, 64); err != nil || index < 0 {
			invalid(c, http.StatusBadRequest, fmt.Sprintf("index %q is not a non-negative integer", is))
			return 0, 0, false
		}
	}
	wait = DefaultWait
	if hasWait {
		var err error
		if wait, err = time.ParseDuration(ws); err != nil || wait <= 0 || wait > service.MaxWait {
			invalid(c, http.StatusBadRequest, fmt.Sprintf("wait %q must be a duration such as 30s, above 0 and at most %s", ws, service.MaxWait))
			return 0, 0, false
		}
	}
	return index, wait, true
}

// pollingBroker parses ?broker=ID, the id of the broker whose long poll
// this is (0 when not given), which ties the poll to it (service.Hold).
func pollingBroker(c *gin.Context) (int64, bool) {
	bs, ok := c.GetQuery("broker")
	if !ok {
		return 0, true
	}
	id, err := strconv.ParseInt(bs, 10, 64)
	if err != nil || id < 1 {
		invalid(c, http.StatusBadRequest, fmt.Sprintf("broker %q is not a broker id (a positive integer)", bs))
		return 0, false
	}
	return id, true
}

func (h *Handler) groups(c *gin.Context) {
	cluster := c.Param("cluster")
	if err := ledgerless.ValidateName("cluster", cluster); err != nil {
		h.fail(c, err)
		return
	}
	grps, err := h.svc.ClusterGroups(c.Request.Context(), cluster)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := groupsResponse{Groups: make([]group, len(grps))}
	for i, g := range grps {
		out.Groups[i] = toGroup(g)
	}
	writeJSON(c, http.StatusOK, out)
}

func (h *Handler) clusters(c *gin.Context) {
	cs, err := h.svc.Clusters(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := clustersResponse{Clusters: []cluster{}}
	for _, x := range cs {
		out.Clusters = append(out.Clusters, cluster{Cluster: x.Name, Groups: x.Groups})
	}
	writeJSON(c, http.StatusOK, out)
}

func (h *Handler) controller(c *gin.Context) {
	ctl, err := h.svc.Controller(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toController(ctl))
}
