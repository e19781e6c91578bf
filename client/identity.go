package client

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrIdentityMismatch says that a broker's identity file does not fit: it
// names another cluster or group, or the controller knows its brokerId
// with another registerCode, or not at all. The file is never replaced
// on its own; an operator who means the broker to join as a new one
// removes it.
var ErrIdentityMismatch = errors.New("broker identity mismatch")

// identityVersion is the schema version of identity files.
const identityVersion = 1

// identity is what a broker persists to keep its brokerId across
// restarts, like RocketMQ's brokerIdentity file. BrokerID is 0 between
// choosing a registerCode and the controller's first answer: a restart
// then registers with the same code and gets the same id.
type identity struct {
	Version      int    `json:"v"`
	Cluster      string `json:"cluster"`
	Group        string `json:"group"`
	BrokerID     int64  `json:"brokerId"`
	RegisterCode string `json:"registerCode"`
}

// readIdentity reads the identity file at path; found is false when there
// is none. A file that cannot be read or does not belong to cluster and
// group is an error.
func readIdentity(path, cluster, group string) (id identity, found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return identity{}, false, nil
	}
	if err != nil {
		return identity{}, false, fmt.Errorf("identity file: %w", err)
	}
	if err := json.Unmarshal(data, &id); err != nil || id.Version != identityVersion || id.RegisterCode == "" || id.BrokerID < 0 {
		return identity{}, false, fmt.Errorf("identity file %s is not a version %d identity (%v); it is left as it is: repair or remove it",
			path, identityVersion, err)
	}
	if id.Cluster != cluster || id.Group != group {
		return identity{}, false, fmt.Errorf("%w: identity file %s belongs to %s/%s, not %s/%s",
			ErrIdentityMismatch, path, id.Cluster, id.Group, cluster, group)
	}
	return id, true, nil
}

// writeIdentity replaces the identity file at path atomically: it writes
// a temporary file in the same directory, syncs it, renames it over path
// and syncs the directory, so that a crash leaves either the old file or
// the new one, never a torn one.
func writeIdentity(path string, id identity) error {
	id.Version = identityVersion
	data, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("identity file: %w", err)
	}
	// Temporary files a crash left behind are of no use.
	stale, _ := filepath.Glob(path + ".tmp-*")
	for _, s := range stale {
		_ = os.Remove(s)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("identity file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("write identity file %s: %w", path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newRegisterCode returns a random registerCode: 128 bits in hex.
func newRegisterCode() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
