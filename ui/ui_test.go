package ui_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ledgerless/ledgerless/ui"
)

// maxGzipped bounds what a cold load of the dashboard transfers.
const maxGzipped = 16 << 10

func serve(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	r := resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAssets: every file is served with its type, the page's security
// headers and an ETag, gzipped to browsers that accept it, 304 when the
// browser has it; nothing refers to another origin.
func TestAssets(t *testing.T) {
	h := ui.New()
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/index.html": "text/html",
		"/ui/app.js": "text/javascript", "/ui/app.css": "text/css"} {
		plain := serve(t, h, "GET", path)
		if plain.StatusCode != http.StatusOK || !strings.HasPrefix(plain.Header.Get("Content-Type"), ctype) {
			t.Fatalf("GET %s: %d %q, want 200 %s", path, plain.StatusCode, plain.Header.Get("Content-Type"), ctype)
		}
		for _, header := range []string{"Content-Security-Policy", "ETag", "Cache-Control"} {
			if plain.Header.Get(header) == "" {
				t.Errorf("GET %s: no %s", path, header)
			}
		}
		if got := plain.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", path, got)
		}
		want := body(t, plain)
		if bytes.Contains(want, []byte("http://")) || bytes.Contains(want, []byte("https://")) {
			t.Errorf("%s refers to another origin", path)
		}
		zipped := serve(t, h, "GET", path, "Accept-Encoding", "br, gzip;q=0.8")
		if zipped.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body(t, zipped), want) {
			t.Errorf("GET %s with gzip: encoding %q, or a body other than the plain one", path, zipped.Header.Get("Content-Encoding"))
		}
		if again := serve(t, h, "GET", path, "If-None-Match", plain.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, again.StatusCode)
		}
		head := serve(t, h, "HEAD", path)
		if b := body(t, head); head.StatusCode != http.StatusOK || len(b) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", path, head.StatusCode, len(b))
		}
	}
	if resp := serve(t, h, "GET", "/ui/app.js", "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a browser that refuses it")
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/ui/no-such-file.js", http.StatusNotFound}, {"GET", "/ui/assets/app.js", http.StatusNotFound},
		{"POST", "/ui/", http.StatusMethodNotAllowed}, {"DELETE", "/ui/app.js", http.StatusMethodNotAllowed}} {
		if resp := serve(t, h, c.method, c.path); resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
	}
	gzipped, plain := h.Size()
	t.Logf("the dashboard's files: %d bytes, %d gzipped", plain, gzipped)
	if gzipped > maxGzipped {
		t.Errorf("the dashboard's files are %d bytes gzipped, over the budget of %d", gzipped, maxGzipped)
	}
}

// TestMount: the dashboard below /ui/, /ui redirected there, everything
// else the API's.
func TestMount(t *testing.T) {
	var apiPaths []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiPaths = append(apiPaths, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	h := ui.Mount(api)
	if resp := serve(t, h, "GET", "/ui"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := serve(t, h, "GET", "/ui/app.js"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /ui/app.js: %d", resp.StatusCode)
	}
	for _, path := range []string{"/", "/v1/whoami", "/uix", "/healthz"} {
		if resp := serve(t, h, "GET", path); resp.StatusCode != http.StatusTeapot {
			t.Errorf("GET %s: %d, not the API's answer", path, resp.StatusCode)
		}
	}
	if strings.Join(apiPaths, " ") != "/ /v1/whoami /uix /healthz" {
		t.Errorf("the API got %v", apiPaths)
	}
}
