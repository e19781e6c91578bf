// Command etcd is etcd's own server, built from the official module at
// the version ledgerless uses (go.etcd.io/etcd/server/v3/embed), so that
// tests and demos run a real external etcd cluster without installing
// one. It takes etcd's flags, environment variables and configuration
// file (etcd --help), and stops promptly however many clients are
// connected (serve.go).
//
// `etcd health [URL]` is added for containers built FROM scratch, which
// have no curl: it exits 0 when the member at URL (default
// http://127.0.0.1:2379) answers its /health endpoint as healthy.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "health" {
		url := "http://127.0.0.1:2379"
		if len(os.Args) > 2 {
			url = os.Args[2]
		}
		if err := health(url); err != nil {
			fmt.Fprintln(os.Stderr, "etcd health:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(serve(os.Args[1:]))
}

func health(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return fmt.Errorf("%s/health: %s: %w", url, resp.Status, err)
	}
	if h.Health != "true" {
		return fmt.Errorf("%s is not healthy: %s", url, h.Reason)
	}
	fmt.Println(url, "is healthy")
	return nil
}
