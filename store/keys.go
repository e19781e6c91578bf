package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ledgerless/ledgerless"
)

// DefaultPrefix is the key prefix used when none is configured.
const DefaultPrefix = "/ledgerless/v1/"

// Key layout, below the prefix. Keys are grouped by kind first so that one
// range lists every group (state/), and the keys that make up a group's
// long-poll index (state, brokers, alive) can be watched without the
// high-volume heartbeat data (hb/):
//
//	config                          runtime configuration
//	replicas/<id>                   controller replica record
//	replica-alive/<id>              leased: the replica is running
//	state/<cluster>/<group>         master state and id allocation
//	brokers/<cluster>/<group>/<id>  registration: address, register code
//	alive/<cluster>/<group>/<id>    leased: the broker is alive
//	hb/<cluster>/<group>/<id>       last recorded heartbeat data
//	history/<cluster>/<group>/<epoch> election history
//	restores/<fence id>             a restore fence that was applied
//
// Ids and epochs are zero-padded to 20 digits so keys sort numerically.
// Names are validated to exclude "/", so every key parses unambiguously.
type keys struct{ prefix string }

const (
	kindState        = "state"
	kindBrokers      = "brokers"
	kindAlive        = "alive"
	kindHeartbeat    = "hb"
	kindHistory      = "history"
	kindReplicas     = "replicas"
	kindReplicaAlive = "replica-alive"
	kindRestores     = "restores"
)

func (k keys) config() string { return k.prefix + "config" }

func (k keys) kind(kind string) string { return k.prefix + kind + "/" }

func (k keys) cluster(kind, cluster string) string { return k.kind(kind) + cluster + "/" }

func (k keys) group(kind string, g ledgerless.GroupKey) string {
	return k.kind(kind) + g.Cluster + "/" + g.Group + "/"
}

func (k keys) state(g ledgerless.GroupKey) string {
	return k.kind(kindState) + g.Cluster + "/" + g.Group
}

func (k keys) member(kind string, g ledgerless.GroupKey, id int64) string {
	return k.group(kind, g) + pad(id)
}

func (k keys) replica(kind, id string) string { return k.kind(kind) + id }

func pad(n int64) string { return fmt.Sprintf("%020d", n) }

// parsed is a group key taken apart.
type parsed struct {
	kind  string
	group ledgerless.GroupKey
	id    int64 // broker id or epoch; 0 for state keys
}

// parse splits a key below the prefix into kind, group and trailing number.
func (k keys) parse(key string) (parsed, bool) {
	rest, ok := strings.CutPrefix(key, k.prefix)
	if !ok {
		return parsed{}, false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 3 && parts[0] == kindState:
		return parsed{kind: parts[0], group: ledgerless.GroupKey{Cluster: parts[1], Group: parts[2]}}, true
	case len(parts) == 4:
		id, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil {
			return parsed{}, false
		}
		return parsed{kind: parts[0], group: ledgerless.GroupKey{Cluster: parts[1], Group: parts[2]}, id: id}, true
	}
	return parsed{}, false
}
