package store

import (
	"context"
	"fmt"

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
	var rec configRecord
	if err := decode(s.k.config(), kvs[0].Value, &rec); err != nil {
		return ledgerless.RuntimeConfig{}, 0, err
	}
	return rec.config(), kvs[0].ModRevision, nil
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
