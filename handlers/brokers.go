package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
)

func (h *Handler) register(c *gin.Context) {
	g, ok := groupKey(c)
	if !ok {
		return
	}
	var req registerRequest
	if !decode(c, &req) {
		return
	}
	r := service.Registration{}
	if req.Address == nil || req.RegisterCode == nil {
		invalid(c, http.StatusBadRequest, "address and registerCode are required")
		return
	}
	r.Address, r.RegisterCode = *req.Address, *req.RegisterCode
	if err := ledgerless.ValidateAddress(r.Address); err != nil {
		h.fail(c, err)
		return
	}
	if err := ledgerless.ValidateRegisterCode(r.RegisterCode); err != nil {
		h.fail(c, err)
		return
	}
	if req.BrokerID != nil {
		if err := service.BrokerID(*req.BrokerID); err != nil {
			invalid(c, http.StatusBadRequest, err.Error())
			return
		}
		r.BrokerID = *req.BrokerID
	}
	if req.HeartbeatTimeoutMs != nil {
		var good bool
		if r.Timeout, good = timeout(c, *req.HeartbeatTimeoutMs); !good {
			return
		}
	}
	id, grp, err := h.svc.Register(c.Request.Context(), g, r)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header(IndexHeader, strconv.FormatInt(grp.Index, 10))
	writeJSON(c, http.StatusOK, registerResponse{BrokerID: id, Group: toGroup(grp)})
}

// timeout validates a heartbeatTimeoutMs value.
func timeout(c *gin.Context, ms int64) (time.Duration, bool) {
	d, err := service.HeartbeatTimeout(ms)
	if err != nil {
		invalid(c, http.StatusBadRequest, err.Error())
		return 0, false
	}
	return d, true
}

func (h *Handler) heartbeat(c *gin.Context) {
	g, id, ok := brokerPath(c)
	if !ok {
		return
	}
	var req heartbeatRequest
	if !decode(c, &req) {
		return
	}
	if detail := nonNegative(field{"epoch", req.Epoch}, field{"maxOffset", req.MaxOffset},
		field{"confirmOffset", req.ConfirmOffset}, field{"electionPriority", req.ElectionPriority}); detail != "" {
		invalid(c, http.StatusBadRequest, detail)
		return
	}
	var beat service.Beat
	if req.Address != nil {
		if err := ledgerless.ValidateAddress(*req.Address); err != nil {
			h.fail(c, err)
			return
		}
		beat.Address = *req.Address
	}
	if req.HeartbeatTimeoutMs != nil {
		if beat.Timeout, ok = timeout(c, *req.HeartbeatTimeoutMs); !ok {
			return
		}
	}
	beat.Data = ledgerless.HeartbeatData{Epoch: value(req.Epoch), MaxOffset: value(req.MaxOffset),
		ConfirmOffset: value(req.ConfirmOffset), ElectionPriority: value(req.ElectionPriority)}
	start := time.Now()
	st, err := h.svc.Heartbeat(c.Request.Context(), g, id, beat)
	h.heartbeatDone(start, err)
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toHeartbeatResponse(st, id))
}

func value(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func (h *Handler) resign(c *gin.Context) {
	if g, id, ok := brokerPath(c); ok {
		h.noContent(c, h.svc.Resign(c.Request.Context(), g, id))
	}
}
