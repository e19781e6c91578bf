package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
)

func (h *Handler) config(c *gin.Context) {
	cfg, err := h.svc.Config(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toRuntimeConfig(cfg))
}

// patchConfig applies an RFC 7396 JSON merge patch to the runtime
// configuration: a member sets that field, null resets it to its default.
func (h *Handler) patchConfig(c *gin.Context) {
	var patch map[string]json.RawMessage
	if !decode(c, &patch) {
		return
	}
	if patch == nil {
		invalid(c, http.StatusBadRequest, "request body: a JSON object is required")
		return
	}
	apply, err := configPatch(patch)
	if err != nil {
		h.fail(c, err)
		return
	}
	cfg, err := h.svc.PatchConfig(c.Request.Context(), apply)
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toRuntimeConfig(cfg))
}

// configPatch checks every member of a merge patch and returns the function
// that applies it.
func configPatch(patch map[string]json.RawMessage) (func(*ledgerless.RuntimeConfig) error, error) {
	def := ledgerless.DefaultRuntimeConfig()
	var steps []func(*ledgerless.RuntimeConfig)
	names := make([]string, 0, len(patch))
	for name := range patch {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		raw := patch[name]
		null := string(raw) == "null"
		bad := func(want string) error {
			return fmt.Errorf("%w: %s must be %s or null", ledgerless.ErrInvalidRequest, name, want)
		}
		switch name {
		case "enableElectUncleanMaster", "paused":
			var v bool
			if !null && json.Unmarshal(raw, &v) != nil {
				return nil, bad("true or false")
			}
			if name == "paused" {
				steps = append(steps, func(c *ledgerless.RuntimeConfig) { c.Paused = v })
			} else {
				steps = append(steps, func(c *ledgerless.RuntimeConfig) { c.EnableElectUncleanMaster = v })
			}
		case "pausedGroups":
			var v []string
			if !null && (json.Unmarshal(raw, &v) != nil || v == nil) {
				return nil, bad(`a list of "cluster/group" names`)
			}
			steps = append(steps, func(c *ledgerless.RuntimeConfig) { c.PausedGroups = v })
		case "defaultHeartbeatTimeoutMs":
			v := def.DefaultHeartbeatTimeout.Milliseconds()
			if !null && json.Unmarshal(raw, &v) != nil {
				return nil, bad("an integer number of milliseconds")
			}
			if v < ledgerless.MinHeartbeatTimeout.Milliseconds() || v > ledgerless.MaxHeartbeatTimeout.Milliseconds() {
				return nil, fmt.Errorf("%w: defaultHeartbeatTimeoutMs must be %d-%d", ledgerless.ErrInvalidRequest,
					ledgerless.MinHeartbeatTimeout.Milliseconds(), ledgerless.MaxHeartbeatTimeout.Milliseconds())
			}
			steps = append(steps, func(c *ledgerless.RuntimeConfig) { c.DefaultHeartbeatTimeout = time.Duration(v) * time.Millisecond })
		default:
			return nil, fmt.Errorf("%w: unknown config field %q", ledgerless.ErrInvalidRequest, name)
		}
	}
	return func(c *ledgerless.RuntimeConfig) error {
		for _, step := range steps {
			step(c)
		}
		return nil
	}, nil
}
