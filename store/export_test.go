package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// RawRecord is a key below the prefix and its stored value, as the
// fixtures of earlier releases keep them.
type RawRecord struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Leased bool   `json:"leased,omitempty"`
}

// PutRaw writes records as they are, below s's prefix; leased ones under
// one new lease of ttl.
func (s *Store) PutRaw(ctx context.Context, recs []RawRecord, ttl time.Duration) error {
	lease, err := s.cli.Grant(ctx, int64(ttl/time.Second))
	if err != nil {
		return err
	}
	for _, r := range recs {
		var opts []clientv3.OpOption
		if r.Leased {
			opts = append(opts, clientv3.WithLease(lease.ID))
		}
		if _, err := s.cli.Put(ctx, s.k.prefix+r.Key, r.Value, opts...); err != nil {
			return err
		}
	}
	return nil
}

// DumpRaw reads every record below s's prefix.
func (s *Store) DumpRaw(ctx context.Context) ([]RawRecord, error) {
	resp, err := s.cli.Get(ctx, s.k.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	var out []RawRecord
	for _, kv := range resp.Kvs {
		out = append(out, RawRecord{Key: strings.TrimPrefix(string(kv.Key), s.k.prefix), Value: string(kv.Value), Leased: kv.Lease != 0})
	}
	return out, nil
}

// RecordVersion is the "v" of a stored value; 0 when it has none.
func RecordVersion(value string) int {
	var v struct {
		V int `json:"v"`
	}
	_ = json.Unmarshal([]byte(value), &v)
	return v.V
}
