package cli

import (
	"testing"

	"github.com/ledgerless/ledgerless/internal/openapitest"
)

// TestAPITypesFitTheDocument holds the types the CLI decodes answers into
// to openapi.yaml, which the handler tests hold the server to.
func TestAPITypesFitTheDocument(t *testing.T) {
	for _, tc := range []struct {
		v      any
		schema string
	}{
		{clusterList{}, "Clusters"},
		{groupList{}, "Groups"},
		{historyPage{}, "History"},
		{controllerInfo{}, "Controller"},
		{runtimeConfig{}, "RuntimeConfig"},
	} {
		openapitest.Fits(t, tc.v, tc.schema, openapitest.Answer)
	}
}
