package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ledgerless/ledgerless"
)

// The runtime configuration's ETag is its etcd revision ("0" while the
// defaults apply). A PATCH with If-Match applies only to that revision:
// read, modify, write with If-Match, and on 412 read again, so that two
// operators changing it at once lose neither change.

func (h *Handler) config(c *gin.Context) {
	cfg, rev, err := h.svc.ConfigRevision(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("ETag", etag(rev))
	writeJSON(c, http.StatusOK, toRuntimeConfig(cfg))
}

// patchConfig applies an RFC 7396 JSON merge patch to the runtime
// configuration: a member sets that field, null resets it to its default.
func (h *Handler) patchConfig(c *gin.Context) {
	revisions, ok := ifMatch(c)
	if !ok {
		return
	}
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
	cfg, rev, err := h.svc.PatchConfigAt(c.Request.Context(), revisions, apply)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("ETag", etag(rev))
	writeJSON(c, http.StatusOK, toRuntimeConfig(cfg))
}

// etag is the entity tag of a revision: a strong one, quoted.
func etag(rev int64) string { return `"` + strconv.FormatInt(rev, 10) + `"` }

// ifMatch reads an If-Match header into the revisions it names; nil
// without one, or for "*" (the configuration always exists). A header
// that names no revision of ours cannot match, and answers 412 later; one
// that is not a list of entity tags is answered 400 here.
func ifMatch(c *gin.Context) ([]int64, bool) {
	values := c.Request.Header.Values("If-Match")
	if len(values) == 0 {
		return nil, true
	}
	revisions := []int64{}
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			switch {
			case tag == "*":
				return nil, true
			case strings.HasPrefix(tag, "W/"):
				continue // weak tags never match (RFC 9110, 13.1.1)
			case len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`):
				invalid(c, http.StatusBadRequest, fmt.Sprintf("If-Match: %q is not an entity tag", tag))
				return nil, false
			}
			if rev, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && rev >= 0 {
				revisions = append(revisions, rev)
			}
		}
	}
	return revisions, true
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
