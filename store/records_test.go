package store

import (
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
)

// BenchmarkRecords measures the JSON encoding of the two records every
// heartbeat touches: the heartbeat data it writes and the group state it
// reads. Run with -benchmem.
func BenchmarkRecords(b *testing.B) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	hb := toHeartbeatRecord(ledgerless.HeartbeatData{Epoch: 3, MaxOffset: 1 << 40, ConfirmOffset: 1<<40 - 4096, ElectionPriority: 1}, at)
	st := toStateRecord(ledgerless.State{MasterBrokerID: 1, MasterAddress: "10.0.0.1:10911", MasterEpoch: 7,
		SyncStateSet: []int64{1, 2, 3}, SyncStateSetEpoch: 12, NextBrokerID: 4}, "")
	b.Run("heartbeat/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encode(hb)
		}
	})
	b.Run("heartbeat/decode", func(b *testing.B) {
		data := []byte(encode(hb))
		var got heartbeatRecord
		if err := decode("hb", data, &got); err != nil || got.data() != hb.data() || !got.At.Equal(at) {
			b.Fatalf("decoded %+v, %v; want %+v", got, err, hb)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = decode("hb", data, &got)
		}
	})
	b.Run("state/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encode(st)
		}
	})
	b.Run("state/decode", func(b *testing.B) {
		data := []byte(encode(st))
		var got stateRecord
		if err := decode("state", data, &got); err != nil || !got.state().Equal(st.state()) {
			b.Fatalf("decoded %+v, %v; want %+v", got, err, st)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = decode("state", data, &got)
		}
	})
}
