package handlers

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
	"sigs.k8s.io/yaml"
)

// openAPI is the API's OpenAPI 3.1 document. The handler tests validate
// every request and response they make against it, so it cannot drift
// from the code.
//
//go:embed openapi.yaml
var openAPI []byte

// openAPIJSON is openAPI as JSON, served at /v1/openapi.json.
var openAPIJSON = func() []byte {
	b, err := yaml.YAMLToJSON(openAPI)
	if err != nil {
		panic("handlers: openapi.yaml: " + err.Error()) // a build defect, caught by every test
	}
	return b
}()

func serveOpenAPI(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIJSON) }
