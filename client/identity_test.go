package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

type identityFile struct {
	V            int    `json:"v"`
	Cluster      string `json:"cluster"`
	Group        string `json:"group"`
	BrokerID     int64  `json:"brokerId"`
	RegisterCode string `json:"registerCode"`
}

func readIdentity(t *testing.T, path string) identityFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var id identityFile
	if err := json.Unmarshal(data, &id); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return id
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityKeptAcrossRestarts(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	dir := t.TempDir()
	opts := options(t, 1, ctl.URL)
	opts.IdentityFile = filepath.Join(dir, "a", "identity.json") // the directory is created
	first := run(t, opts)
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	id := readIdentity(t, opts.IdentityFile)
	if id.V != 1 || id.Cluster != "c1" || id.Group != "g1" || id.BrokerID != first.ID() || len(id.RegisterCode) != 32 {
		t.Fatalf("identity after the first start: %+v (broker %d)", id, first.ID())
	}
	other := options(t, 2, ctl.URL)
	other.IdentityFile = filepath.Join(dir, "b", "identity.json")
	if second := run(t, other); second.ID() == first.ID() {
		t.Fatalf("a second broker got id %d too", second.ID())
	}
	before, _ := os.ReadFile(opts.IdentityFile)
	again := run(t, opts)
	if again.ID() != first.ID() {
		t.Errorf("restarted broker got id %d, want %d", again.ID(), first.ID())
	}
	if after, _ := os.ReadFile(opts.IdentityFile); !bytes.Equal(before, after) {
		t.Errorf("restart rewrote the identity file:\n%s\n%s", before, after)
	}
}

// TestIdentityCrashBeforeAnswer: the registerCode is on disk before the
// controller sees it, so a broker that crashed before it persisted the
// controller's answer gets the same brokerId on its next start.
func TestIdentityCrashBeforeAnswer(t *testing.T) {
	opts := options(t, 1, "http://"+storetest.FreeAddr()) // no controller yet
	opts.IdentityFile = filepath.Join(t.TempDir(), "identity.json")
	b, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	eventually(t, func() bool { _, err := os.Stat(opts.IdentityFile); return err == nil })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run with no controller, cancelled: %v", err)
	}
	id := readIdentity(t, opts.IdentityFile)
	if id.BrokerID != 0 || id.RegisterCode == "" {
		t.Fatalf("identity before any answer: %+v", id)
	}

	// The controller had registered the code when the broker crashed.
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	tr := admin(t, ctl.URL)
	var resp struct {
		BrokerID int64 `json:"brokerId"`
	}
	if _, err := tr.Call(ctxT(t), http.MethodPost, client.GroupPath("c1", "g1", "brokers"),
		map[string]string{"address": opts.Address, "registerCode": id.RegisterCode}, &resp); err != nil {
		t.Fatal(err)
	}
	run(t, options(t, 9, ctl.URL)) // another broker takes the next id
	opts.Controllers = []string{ctl.URL}
	r := run(t, opts)
	if r.ID() != resp.BrokerID {
		t.Errorf("restarted broker got id %d, want %d", r.ID(), resp.BrokerID)
	}
	if id := readIdentity(t, opts.IdentityFile); id.BrokerID != resp.BrokerID {
		t.Errorf("identity file after the restart: %+v", id)
	}
}

// TestIdentityMismatch: an identity that does not fit stops the broker
// with a clear error and is left as it is.
func TestIdentityMismatch(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	known := options(t, 1, ctl.URL)
	known.IdentityFile = filepath.Join(t.TempDir(), "identity.json")
	run(t, known).stop()
	code := readIdentity(t, known.IdentityFile).RegisterCode

	for _, tc := range []struct {
		name, content, want string
		mismatch            bool
	}{
		{"other group", `{"v":1,"cluster":"c1","group":"g2","brokerId":1,"registerCode":"` + code + `"}`,
			"belongs to c1/g2, not c1/g1", true},
		{"other registerCode", `{"v":1,"cluster":"c1","group":"g1","brokerId":1,"registerCode":"forged"}`,
			"BROKER_ID_INVALID", true},
		{"unknown brokerId", `{"v":1,"cluster":"c1","group":"g1","brokerId":7,"registerCode":"` + code + `"}`,
			"BROKER_NEED_TO_BE_REGISTERED", true},
		{"torn file", `{"v":1,"cluster":"c1","gro`, "is not a version 1 identity", false},
		{"future version", `{"v":2,"cluster":"c1","group":"g1","brokerId":1,"registerCode":"x"}`, "is not a version 1 identity", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := options(t, 2, ctl.URL)
			opts.IdentityFile = filepath.Join(t.TempDir(), "identity.json")
			writeFile(t, opts.IdentityFile, tc.content)
			b, err := client.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			err = b.Run(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, client.ErrIdentityMismatch) != tc.mismatch {
				t.Fatalf("Run: %v; want an error with %q (identity mismatch: %v)", err, tc.want, tc.mismatch)
			}
			if data, _ := os.ReadFile(opts.IdentityFile); string(data) != tc.content {
				t.Errorf("identity file changed to %s", data)
			}
		})
	}
}

// TestIdentityLeftovers: a temporary file a crash left behind is not
// taken for the identity, and goes with the next write.
func TestIdentityLeftovers(t *testing.T) {
	ctl := servertest.Start(t, storetest.Prefix(t), "r1")
	opts := options(t, 1, ctl.URL)
	opts.IdentityFile = filepath.Join(t.TempDir(), "identity.json")
	leftover := opts.IdentityFile + ".tmp-123"
	writeFile(t, leftover, `{"v":1,"cluster":"c1","gro`)
	r := run(t, opts)
	if id := readIdentity(t, opts.IdentityFile); id.BrokerID != r.ID() {
		t.Errorf("identity %+v, broker %d", id, r.ID())
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file: %v", err)
	}
}
