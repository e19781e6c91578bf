package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestEtcdStopsPromptly: cmd/etcd, configured by ETCD_* variables as the
// compose demo configures it, stops cleanly within a second of SIGTERM
// while a controller replica holds watches and lease keep-alives on it.
// etcd's own server waited its request timeout (7 s) for those streams.
func TestEtcdStopsPromptly(t *testing.T) {
	dir := t.TempDir()
	client, peer := "http://"+freeAddr(t), "http://"+freeAddr(t)
	for k, v := range map[string]string{
		"ETCD_NAME": "e1", "ETCD_DATA_DIR": filepath.Join(dir, "e1"),
		"ETCD_LISTEN_CLIENT_URLS": client, "ETCD_ADVERTISE_CLIENT_URLS": client,
		"ETCD_LISTEN_PEER_URLS": peer, "ETCD_INITIAL_ADVERTISE_PEER_URLS": peer,
		"ETCD_INITIAL_CLUSTER": "e1=" + peer, "ETCD_LOG_LEVEL": "error", "ETCD_UNSAFE_NO_FSYNC": "true",
	} {
		t.Setenv(k, v)
	}
	m := &etcdMember{name: "e1", clientURL: client, process: newProcess(t, dir, "etcd-e1", etcdBinary)}
	m.waitHealthy(t)
	serve(t, "--replica-id", "r1", "--etcd-endpoints", client)
	time.Sleep(time.Second) // the replica's watches and keep-alives are open

	start := time.Now()
	if err := m.stop(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("etcd stopped %s after SIGTERM with a replica connected", took)
	if took > time.Second {
		t.Errorf("etcd took %s to stop with a replica connected, want under 1 s", took)
	}
}
