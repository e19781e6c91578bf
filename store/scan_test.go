package store_test

import (
	"slices"
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store/storetest"
)

// Scan lists the groups without a live master with their state and the
// ids of their alive brokers, and reads the runtime configuration in the
// same revision: what the reconcile filters on.
func TestScanReportsAliveBrokersAndConfig(t *testing.T) { clients(t, testScan) }

func testScan(t *testing.T, open opener) {
	s, lease := create(t, open) // state without a master, broker 1 alive
	cfg := ledgerless.DefaultRuntimeConfig()
	cfg.PausedGroups = []string{g.String()}
	if _, err := s.WriteConfig(ctxT(t), cfg, 0); err != nil {
		t.Fatal(err)
	}
	scan, err := s.Scan(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if scan.Groups != 1 || scan.AliveBrokers != 1 || len(scan.WithoutLiveMaster) != 1 {
		t.Fatalf("scan = %+v, want one group without a master, one alive broker", scan)
	}
	if sg := scan.WithoutLiveMaster[0]; sg.Key != g || !slices.Equal(sg.Alive, []int64{1}) || sg.State.NextBrokerID != 2 {
		t.Errorf("scanned group = %+v", sg)
	}
	if !scan.Config.GroupPaused(g) {
		t.Errorf("scan config = %+v, want %s paused", scan.Config, g)
	}
	if err := s.RevokeLease(ctxT(t), lease); err != nil {
		t.Fatal(err)
	}
	if scan, err = s.Scan(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if scan.AliveBrokers != 0 || len(scan.WithoutLiveMaster) != 1 || len(scan.WithoutLiveMaster[0].Alive) != 0 {
		t.Errorf("after the lease's loss: %+v", scan)
	}
}

// The runtime configuration is decoded once per write and then served
// from the cache: every read sees the latest write, and a caller that
// changes what it was given changes nobody else's copy.
func TestConfigReadsSeeEveryWrite(t *testing.T) {
	s := storetest.Open(t, storetest.Prefix(t))
	cfg := ledgerless.DefaultRuntimeConfig()
	cfg.PausedGroups = []string{"c/a", "c/b"}
	if _, err := s.WriteConfig(ctxT(t), cfg, 0); err != nil {
		t.Fatal(err)
	}
	got, rev, err := s.ReadConfig(ctxT(t))
	if err != nil || !slices.Equal(got.PausedGroups, cfg.PausedGroups) {
		t.Fatalf("read %+v, %v; want %v", got, err, cfg.PausedGroups)
	}
	got.PausedGroups[0] = "c/changed"
	if again, _, _ := s.ReadConfig(ctxT(t)); again.PausedGroups[0] != "c/a" {
		t.Errorf("a caller's change reached the cache: %v", again.PausedGroups)
	}
	cfg.PausedGroups = []string{"c/z"}
	if _, err := s.WriteConfig(ctxT(t), cfg, rev); err != nil {
		t.Fatal(err)
	}
	if got, _, err = s.ReadConfig(ctxT(t)); err != nil || !slices.Equal(got.PausedGroups, []string{"c/z"}) {
		t.Errorf("after a write: %+v, %v", got, err)
	}
}
