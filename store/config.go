package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ledgerless/ledgerless"
)

// ReadConfig reads the runtime configuration and its revision (0 when it
// was never written and the defaults apply).
func (s *Store) ReadConfig(ctx context.Context) (ledgerless.RuntimeConfig, int64, error) {
	resp, err := s.cli.Get(ctx, s.k.config())
	if err != nil {
		return ledgerless.RuntimeConfig{}, 0, translate("read config", err)
	}
	return s.configFrom(resp.Kvs)
}

func (s *Store) configFrom(kvs []*mvccKV) (ledgerless.RuntimeConfig, int64, error) {
	if len(kvs) == 0 {
		return ledgerless.DefaultRuntimeConfig(), 0, nil
	}
	rev := kvs[0].ModRevision
	if cfg, ok := s.cfg.get(rev); ok {
		return cfg, rev, nil
	}
	var rec configRecord
	if err := decode(s.k.config(), kvs[0].Value, &rec); err != nil {
		return ledgerless.RuntimeConfig{}, 0, err
	}
	cfg := rec.config()
	s.cfg.put(rev, cfg)
	return cfg, rev, nil
}

// configCache is the runtime configuration last decoded, by the
// ModRevision of its record (unique to each write). Every group read
// reads the record; a long pausedGroups list would otherwise be decoded
// again every time.
type configCache struct {
	mu  sync.Mutex
	rev int64
	cfg ledgerless.RuntimeConfig
}

// get returns a copy of the configuration decoded at revision rev.
func (c *configCache) get(rev int64) (ledgerless.RuntimeConfig, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev == 0 || c.rev != rev {
		return ledgerless.RuntimeConfig{}, false
	}
	cfg := c.cfg
	cfg.PausedGroups = slices.Clone(cfg.PausedGroups)
	return cfg, true
}

func (c *configCache) put(rev int64, cfg ledgerless.RuntimeConfig) {
	cfg.PausedGroups = slices.Clone(cfg.PausedGroups)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rev, c.cfg = rev, cfg
}

// WriteConfig writes c if the configuration is still at revision rev (0:
// never written), and returns the revision c was written at. Another
// revision is ErrConflict.
func (s *Store) WriteConfig(ctx context.Context, c ledgerless.RuntimeConfig, rev int64) (int64, error) {
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.k.config()), "=", rev)).
		Then(clientv3.OpPut(s.k.config(), encode(toConfigRecord(c)))).Commit()
	if err != nil {
		return 0, translate("write config", err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("write config: %w", ErrConflict)
	}
	return resp.Header.Revision, nil
}
