package store

import (
	"testing"

	"github.com/ledgerless/ledgerless"
)

func TestKeysParseWhatTheyFormat(t *testing.T) {
	k := keys{prefix: DefaultPrefix}
	g := ledgerless.GroupKey{Cluster: "c-1.x", Group: "broker_a"}
	for _, tc := range []struct {
		key  string
		want parsed
	}{
		{k.state(g), parsed{kind: kindState, group: g}},
		{k.member(kindAlive, g, 7), parsed{kind: kindAlive, group: g, id: 7}},
		{k.member(kindHistory, g, 1<<62), parsed{kind: kindHistory, group: g, id: 1 << 62}},
	} {
		got, ok := k.parse(tc.key)
		if !ok || got != tc.want {
			t.Errorf("parse(%q) = %+v, %v; want %+v", tc.key, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"/other/state/c/g", DefaultPrefix + "config", DefaultPrefix + "alive/c/g/x"} {
		if _, ok := k.parse(bad); ok {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
	if k.member(kindAlive, g, 2) > k.member(kindAlive, g, 10) {
		t.Error("ids do not sort numerically")
	}
}

func TestRecordsOfAnotherSchemaVersionAreRefused(t *testing.T) {
	var rec stateRecord
	for _, v := range []string{`{"v":3,"masterEpoch":3}`, `{"v":0,"masterEpoch":3}`, `{"masterEpoch":3}`} {
		if err := decode("k", []byte(v), &rec); err == nil {
			t.Fatalf("%s was read as a known version", v)
		}
	}
	if err := decode("k", []byte(encode(toStateRecord(ledgerless.State{MasterEpoch: 3}, ""))), &rec); err != nil || rec.MasterEpoch != 3 {
		t.Fatalf("round trip: %+v %v", rec, err)
	}
}
