package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/service"
)

// defaultHistoryLimit is the page size of a history request without a
// limit; service.MaxHistoryLimit is the largest.
const defaultHistoryLimit = 50

type alterRequest struct {
	MasterBrokerID    *int64  `json:"masterBrokerId"`
	MasterEpoch       *int64  `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch *int64  `json:"syncStateSetEpoch"`
}

type alterResponse struct {
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

type electRequest struct {
	BrokerID *int64 `json:"brokerId"`
}

type historyResponse struct {
	Items []historyItem `json:"items"`
	Next  *int64        `json:"next"`
}

type historyItem struct {
	MasterEpoch       int64     `json:"masterEpoch"`
	Time              time.Time `json:"time"`
	Reason            string    `json:"reason"`
	OldMasterBrokerID *int64    `json:"oldMasterBrokerId"`
	NewMasterBrokerID *int64    `json:"newMasterBrokerId"`
	Replica           string    `json:"replica"`
}

func (h *Handler) electionRoutes(grp *gin.RouterGroup) {
	grp.POST("/sync-state-set", h.alterSyncStateSet)
	grp.POST("/elect", h.elect)
	grp.DELETE("", h.removeGroup)
	grp.DELETE("/brokers/:id", h.removeBroker)
	grp.GET("/history", h.history)
}

func (h *Handler) alterSyncStateSet(c *gin.Context) {
	g, ok := groupKey(c)
	if !ok {
		return
	}
	var req alterRequest
	if !decode(c, &req) {
		return
	}
	if req.MasterBrokerID == nil || req.MasterEpoch == nil || req.SyncStateSet == nil || req.SyncStateSetEpoch == nil {
		invalid(c, http.StatusBadRequest, "masterBrokerId, masterEpoch, syncStateSet and syncStateSetEpoch are required")
		return
	}
	if detail := nonNegative(field{"masterBrokerId", req.MasterBrokerID}, field{"masterEpoch", req.MasterEpoch},
		field{"syncStateSetEpoch", req.SyncStateSetEpoch}); detail != "" {
		invalid(c, http.StatusBadRequest, detail)
		return
	}
	set, err := service.SyncStateSet(req.SyncStateSet)
	if err != nil {
		invalid(c, http.StatusBadRequest, err.Error())
		return
	}
	st, err := h.svc.AlterSyncStateSet(c.Request.Context(), g, election.Alter{MasterBrokerID: *req.MasterBrokerID,
		MasterEpoch: *req.MasterEpoch, SyncStateSet: set, SyncStateSetEpoch: *req.SyncStateSetEpoch})
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, alterResponse{SyncStateSet: st.SyncStateSet, SyncStateSetEpoch: st.SyncStateSetEpoch})
}

func (h *Handler) elect(c *gin.Context) {
	g, ok := groupKey(c)
	if !ok {
		return
	}
	var req electRequest
	if !decodeOptional(c, &req) {
		return
	}
	var id int64
	if req.BrokerID != nil {
		id = *req.BrokerID
		if err := service.BrokerID(id); err != nil {
			invalid(c, http.StatusBadRequest, err.Error())
			return
		}
	}
	grp, err := h.svc.Elect(c.Request.Context(), g, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeAnswer(c, service.Answer{Group: grp})
}

// force parses the optional ?force=true|false.
func force(c *gin.Context) (bool, bool) {
	s, ok := c.GetQuery("force")
	if !ok {
		return false, true
	}
	f, err := strconv.ParseBool(s)
	if err != nil {
		invalid(c, http.StatusBadRequest, fmt.Sprintf("force %q must be true or false", s))
		return false, false
	}
	return f, true
}

func (h *Handler) removeBroker(c *gin.Context) {
	g, id, ok := brokerPath(c)
	if !ok {
		return
	}
	if f, ok := force(c); ok {
		h.noContent(c, h.svc.RemoveBroker(c.Request.Context(), g, id, f))
	}
}

func (h *Handler) removeGroup(c *gin.Context) {
	g, ok := groupKey(c)
	if !ok {
		return
	}
	if f, ok := force(c); ok {
		h.noContent(c, h.svc.RemoveGroup(c.Request.Context(), g, f))
	}
}

func (h *Handler) history(c *gin.Context) {
	g, ok := groupKey(c)
	if !ok {
		return
	}
	limit, before := int64(defaultHistoryLimit), int64(0)
	for _, q := range []struct {
		name string
		v    *int64
		max  int64
	}{{"limit", &limit, service.MaxHistoryLimit}, {"before", &before, 1<<63 - 1}} {
		s, present := c.GetQuery(q.name)
		if !present {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n > q.max {
			invalid(c, http.StatusBadRequest, fmt.Sprintf("%s %q must be an integer from 1 to %d", q.name, s, q.max))
			return
		}
		*q.v = n
	}
	entries, next, err := h.svc.History(c.Request.Context(), g, before, int(limit))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := historyResponse{Items: []historyItem{}}
	if next != 0 {
		out.Next = &next
	}
	for _, e := range entries {
		out.Items = append(out.Items, historyItem{MasterEpoch: e.MasterEpoch, Time: e.Time, Reason: e.Reason,
			OldMasterBrokerID: optionalID(e.OldMasterBrokerID), NewMasterBrokerID: optionalID(e.NewMasterBrokerID), Replica: e.Replica})
	}
	writeJSON(c, http.StatusOK, out)
}

func optionalID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
