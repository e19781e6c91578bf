// Package ui owns the web dashboard that every controller replica serves
// at /ui/: its HTML, CSS and JavaScript, embedded in the binary, and the
// http.Handler that serves them. The page reads and acts through the
// replica's REST API v1 only; it holds no state of its own.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

//go:embed assets
var assets embed.FS

// contentSecurityPolicy lets the page run only its own script and style.
// connect-src reaches other origins for one reason: when its replica stops
// answering, the page probes the other replicas' /healthz (without
// reading them) to move to one that answers.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self' http: https:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one file, ready to serve.
type asset struct {
	contentType string
	etag        string
	body, gz    []byte
}

// Handler serves the dashboard's files below Prefix; it expects the full
// request path (no prefix stripped).
type Handler struct{ files map[string]asset }

// New returns the dashboard's handler. The files are read and compressed
// once, here.
func New() *Handler {
	h := &Handler{files: map[string]asset{}}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(body)
		_ = w.Close()
		sum := sha256.Sum256(body)
		h.files[strings.TrimPrefix(p, "assets/")] = asset{contentType: mime.TypeByExtension(path.Ext(p)),
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`, body: body, gz: gz.Bytes()}
		return nil
	})
	if err != nil {
		panic("ui: embedded assets: " + err.Error()) // a build defect, caught by every test
	}
	return h
}

// Size is the total size of the files, as sent to a browser that accepts
// gzip, and uncompressed.
func (h *Handler) Size() (gzipped, plain int) {
	for _, a := range h.files {
		gzipped, plain = gzipped+len(a.gz), plain+len(a.body)
	}
	return gzipped, plain
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	a, ok := h.files[name]
	if !ok || !strings.HasPrefix(r.URL.Path, Prefix) {
		http.Error(w, "no such dashboard file: "+r.URL.Path, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" is not allowed on "+r.URL.Path, http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	// Revalidated on every load, so that a replica's upgrade shows at once;
	// unchanged files cost a 304.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	hd.Set("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", a.contentType)
	body := a.body
	if acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// Mount returns a handler that serves the dashboard below Prefix (and
// redirects /ui there) and every other request with api.
func Mount(api http.Handler) http.Handler {
	dash := New()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == strings.TrimSuffix(Prefix, "/"):
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, Prefix):
			dash.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
