package handlers

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
)

// principalKey keeps the authenticated caller in the gin context.
const principalKey = "ledgerless.principal"

type whoamiResponse struct {
	Replica       string    `json:"replica"`
	Authenticated bool      `json:"authenticated"`
	Name          string    `json:"name"`
	Role          auth.Role `json:"role"`
}

// whoami tells a caller who the replica takes it for, so that a front end
// (the dashboard) offers only what the caller's role allows. Without
// authentication every caller may do everything, as an admin.
func (h *Handler) whoami(c *gin.Context) {
	out := whoamiResponse{Replica: h.svc.ReplicaID(), Role: auth.RoleAdmin}
	if h.auth != nil {
		v, _ := c.Get(principalKey)
		p, ok := v.(*auth.Principal)
		if !ok { // authorize sets it for every route that needs a caller
			h.fail(c, fmt.Errorf("%w: no caller known for %s", ledgerless.ErrUnauthenticated, c.Request.URL.Path))
			return
		}
		out.Authenticated, out.Name, out.Role = true, p.Name, p.Role
	}
	writeJSON(c, http.StatusOK, out)
}
