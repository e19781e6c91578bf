package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writeJSON answers c with v as JSON and a final newline, as the group
// answers end too, in the Content-Type already set or else
// jsonContentType. Only the handlers' own types come here, which always
// encode; were one not to, the answer is a bare 500.
func writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		_ = c.Error(err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	contentType := c.Writer.Header().Get("Content-Type")
	if contentType == "" {
		contentType = jsonContentType
	}
	c.Data(status, contentType, append(body, '\n'))
}
