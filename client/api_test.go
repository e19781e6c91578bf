package client

import (
	"testing"

	"github.com/ledgerless/ledgerless/internal/openapitest"
)

// TestAPITypesFitTheDocument holds the client's copy of the API types to
// openapi.yaml, which the handler tests hold the server to.
func TestAPITypesFitTheDocument(t *testing.T) {
	for _, tc := range []struct {
		v      any
		schema string
		d      openapitest.Direction
	}{
		{registerRequest{}, "RegisterRequest", openapitest.Request},
		{heartbeatRequest{}, "HeartbeatRequest", openapitest.Request},
		{alterRequest{}, "AlterRequest", openapitest.Request},
		{registerResponse{}, "RegisterResponse", openapitest.Answer},
		{heartbeatResponse{}, "HeartbeatResponse", openapitest.Answer},
		{alterResponse{}, "AlterResponse", openapitest.Answer},
		{Group{}, "Group", openapitest.Answer},
		{Problem{}, "Problem", openapitest.Answer},
	} {
		openapitest.Fits(t, tc.v, tc.schema, tc.d)
	}
}
