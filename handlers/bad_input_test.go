package handlers_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// badInput is a request that must be refused with a 4xx INVALID_REQUEST
// problem and must change nothing.
type badInput struct {
	name, method, path, body string
	status                   int
	alt                      int // another acceptable status, if any
}

func badInputs() []badInput {
	const (
		reg  = G + "/brokers"
		hb   = G + "/brokers/2/heartbeat"
		sss  = G + "/sync-state-set"
		cfg  = "/v1/config"
		okR  = `{"address":"127.0.0.1:10931","registerCode":"code-3"}`
		big  = "99999999999999999999"
		bad  = 400
		long = 413
	)
	name128 := strings.Repeat("n", 128)
	huge := `{"address":"127.0.0.1:10931","registerCode":"` + strings.Repeat("a", 1<<20) + `"}`
	rows := []badInput{
		// Registration bodies.
		{name: "register malformed JSON", method: "POST", path: reg, body: `{"address":`, status: bad},
		{name: "register empty body", method: "POST", path: reg, body: ``, status: bad},
		{name: "register null body", method: "POST", path: reg, body: `null`, status: bad},
		{name: "register JSON array", method: "POST", path: reg, body: `[]`, status: bad},
		{name: "register array of the object", method: "POST", path: reg, body: `[` + okR + `]`, status: bad},
		{name: "register JSON string", method: "POST", path: reg, body: `"x"`, status: bad},
		{name: "register trailing object", method: "POST", path: reg, body: okR + ` {}`, status: bad},
		{name: "register trailing garbage", method: "POST", path: reg, body: okR + `x`, status: bad},
		{name: "register trailing ]", method: "POST", path: reg, body: okR + `]`, status: bad},
		{name: "register trailing }", method: "POST", path: reg, body: okR + `}`, status: bad},
		{name: "register unknown field", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","foo":1}`, status: bad},
		{name: "register missing address", method: "POST", path: reg, body: `{"registerCode":"code-3"}`, status: bad},
		{name: "register null address", method: "POST", path: reg, body: `{"address":null,"registerCode":"code-3"}`, status: bad},
		{name: "register missing registerCode", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931"}`, status: bad},
		{name: "register address number", method: "POST", path: reg, body: `{"address":5,"registerCode":"code-3"}`, status: bad},
		{name: "register registerCode number", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":5}`, status: bad},
		{name: "register address without port", method: "POST", path: reg, body: `{"address":"127.0.0.1","registerCode":"code-3"}`, status: bad},
		{name: "register address without host", method: "POST", path: reg, body: `{"address":":10931","registerCode":"code-3"}`, status: bad},
		{name: "register address empty port", method: "POST", path: reg, body: `{"address":"host:","registerCode":"code-3"}`, status: bad},
		{name: "register address with space", method: "POST", path: reg, body: `{"address":"a b:1","registerCode":"code-3"}`, status: bad},
		{name: "register address empty", method: "POST", path: reg, body: `{"address":"","registerCode":"code-3"}`, status: bad},
		{name: "register address 300 chars", method: "POST", path: reg, body: `{"address":"` + strings.Repeat("h", 295) + `:1","registerCode":"code-3"}`, status: bad},
		{name: "register registerCode with spaces", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code 3"}`, status: bad},
		{name: "register registerCode control char", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code\u00013"}`, status: bad},
		{name: "register registerCode empty", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":""}`, status: bad},
		{name: "register registerCode 300 chars", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"` + strings.Repeat("c", 300) + `"}`, status: bad},
		{name: "register heartbeatTimeoutMs 1999", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":1999}`, status: bad},
		{name: "register heartbeatTimeoutMs 600001", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":600001}`, status: bad},
		{name: "register heartbeatTimeoutMs -1", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":-1}`, status: bad},
		{name: "register heartbeatTimeoutMs 1e30", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":1e30}`, status: bad},
		{name: "register heartbeatTimeoutMs 2000.5", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":2000.5}`, status: bad},
		{name: "register heartbeatTimeoutMs too large", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":` + big + `}`, status: bad},
		{name: "register heartbeatTimeoutMs string", method: "POST", path: reg, body: `{"address":"127.0.0.1:10931","registerCode":"code-3","heartbeatTimeoutMs":"10000"}`, status: bad},
		{name: "register brokerId 0", method: "POST", path: reg, body: `{"address":"127.0.0.1:10911","registerCode":"code-1","brokerId":0}`, status: bad},
		{name: "register brokerId -1", method: "POST", path: reg, body: `{"address":"127.0.0.1:10911","registerCode":"code-1","brokerId":-1}`, status: bad},
		{name: "register brokerId string", method: "POST", path: reg, body: `{"address":"127.0.0.1:10911","registerCode":"code-1","brokerId":"abc"}`, status: bad},
		{name: "register brokerId too large", method: "POST", path: reg, body: `{"address":"127.0.0.1:10911","registerCode":"code-1","brokerId":` + big + `}`, status: bad},
		{name: "register brokerId 1e30", method: "POST", path: reg, body: `{"address":"127.0.0.1:10911","registerCode":"code-1","brokerId":1e30}`, status: bad},
		{name: "register body over 1 MiB", method: "POST", path: reg, body: huge, status: long},

		// Heartbeat bodies and broker ids.
		{name: "heartbeat malformed JSON", method: "PUT", path: hb, body: `{"epoch":`, status: bad},
		{name: "heartbeat empty body", method: "PUT", path: hb, body: ``, status: bad},
		{name: "heartbeat JSON array", method: "PUT", path: hb, body: `[]`, status: bad},
		{name: "heartbeat trailing data", method: "PUT", path: hb, body: `{"epoch":1} {"epoch":2}`, status: bad},
		{name: "heartbeat unknown field", method: "PUT", path: hb, body: `{"epoch":1,"foo":1}`, status: bad},
		{name: "heartbeat epoch string", method: "PUT", path: hb, body: `{"epoch":"x"}`, status: bad},
		{name: "heartbeat epoch fraction", method: "PUT", path: hb, body: `{"epoch":1.5}`, status: bad},
		{name: "heartbeat negative epoch", method: "PUT", path: hb, body: `{"epoch":-1}`, status: bad},
		{name: "heartbeat negative maxOffset", method: "PUT", path: hb, body: `{"maxOffset":-1}`, status: bad},
		{name: "heartbeat negative confirmOffset", method: "PUT", path: hb, body: `{"confirmOffset":-1}`, status: bad},
		{name: "heartbeat negative electionPriority", method: "PUT", path: hb, body: `{"electionPriority":-1}`, status: bad},
		{name: "heartbeat maxOffset 1e30", method: "PUT", path: hb, body: `{"maxOffset":1e30}`, status: bad},
		{name: "heartbeat maxOffset too large", method: "PUT", path: hb, body: `{"maxOffset":` + big + `}`, status: bad},
		{name: "heartbeat epoch too large", method: "PUT", path: hb, body: `{"epoch":` + big + `}`, status: bad},
		{name: "heartbeat heartbeatTimeoutMs 1999", method: "PUT", path: hb, body: `{"heartbeatTimeoutMs":1999}`, status: bad},
		{name: "heartbeat heartbeatTimeoutMs 600001", method: "PUT", path: hb, body: `{"heartbeatTimeoutMs":600001}`, status: bad},
		{name: "heartbeat address without port", method: "PUT", path: hb, body: `{"address":"127.0.0.1"}`, status: bad},
		{name: "heartbeat address number", method: "PUT", path: hb, body: `{"address":5}`, status: bad},
		{name: "heartbeat body over 1 MiB", method: "PUT", path: hb, body: `{"address":"` + strings.Repeat("a", 1<<20) + `"}`, status: long},
		{name: "heartbeat brokerId 0", method: "PUT", path: G + "/brokers/0/heartbeat", body: `{}`, status: bad},
		{name: "heartbeat brokerId -1", method: "PUT", path: G + "/brokers/-1/heartbeat", body: `{}`, status: bad},
		{name: "heartbeat brokerId abc", method: "PUT", path: G + "/brokers/abc/heartbeat", body: `{}`, status: bad},
		{name: "heartbeat brokerId too large", method: "PUT", path: G + "/brokers/" + big + "/heartbeat", body: `{}`, status: bad},
		{name: "heartbeat brokerId 2.0", method: "PUT", path: G + "/brokers/2.0/heartbeat", body: `{}`, status: bad},

		// Resignation and cleaning.
		{name: "resign brokerId 0", method: "DELETE", path: G + "/brokers/0/lease", status: bad},
		{name: "resign brokerId -1", method: "DELETE", path: G + "/brokers/-1/lease", status: bad},
		{name: "resign brokerId abc", method: "DELETE", path: G + "/brokers/abc/lease", status: bad},
		{name: "resign brokerId too large", method: "DELETE", path: G + "/brokers/" + big + "/lease", status: bad},
		{name: "remove brokerId 0", method: "DELETE", path: G + "/brokers/0", status: bad},
		{name: "remove brokerId -1", method: "DELETE", path: G + "/brokers/-1", status: bad},
		{name: "remove brokerId abc", method: "DELETE", path: G + "/brokers/abc", status: bad},
		{name: "remove brokerId too large", method: "DELETE", path: G + "/brokers/" + big, status: bad},
		{name: "remove broker force=maybe", method: "DELETE", path: G + "/brokers/2?force=maybe", status: bad},
		{name: "remove broker force empty", method: "DELETE", path: G + "/brokers/2?force=", status: bad},
		{name: "remove group force=maybe", method: "DELETE", path: G + "?force=maybe", status: bad},

		// Long poll parameters.
		{name: "index=-1", method: "GET", path: G + "?index=-1", status: bad},
		{name: "index=abc", method: "GET", path: G + "?index=abc", status: bad},
		{name: "index=1.5", method: "GET", path: G + "?index=1.5", status: bad},
		{name: "index too large", method: "GET", path: G + "?index=" + big, status: bad},
		{name: "wait=0s", method: "GET", path: G + "?index=1&wait=0s", status: bad},
		{name: "wait=0", method: "GET", path: G + "?wait=0", status: bad},
		{name: "wait=-1s", method: "GET", path: G + "?index=1&wait=-1s", status: bad},
		{name: "wait=10m", method: "GET", path: G + "?index=1&wait=10m", status: bad},
		{name: "wait=abc", method: "GET", path: G + "?index=1&wait=abc", status: bad},
		{name: "wait=30 (no unit)", method: "GET", path: G + "?index=1&wait=30", status: bad},
		{name: "broker=0", method: "GET", path: G + "?index=1&wait=1s&broker=0", status: bad},
		{name: "broker=-2", method: "GET", path: G + "?index=1&wait=1s&broker=-2", status: bad},
		{name: "broker=x", method: "GET", path: G + "?index=1&wait=1s&broker=x", status: bad},

		// History parameters.
		{name: "history limit=0", method: "GET", path: G + "/history?limit=0", status: bad},
		{name: "history limit=-1", method: "GET", path: G + "/history?limit=-1", status: bad},
		{name: "history limit=5000", method: "GET", path: G + "/history?limit=5000", status: bad},
		{name: "history limit=abc", method: "GET", path: G + "/history?limit=abc", status: bad},
		{name: "history before=x", method: "GET", path: G + "/history?before=x", status: bad},
		{name: "history before=-1", method: "GET", path: G + "/history?before=-1", status: bad},
		{name: "history before too large", method: "GET", path: G + "/history?before=" + big, status: bad},

		// Admin elections.
		{name: "elect malformed JSON", method: "POST", path: G + "/elect", body: `{`, status: bad},
		{name: "elect JSON array", method: "POST", path: G + "/elect", body: `[]`, status: bad},
		{name: "elect unknown field", method: "POST", path: G + "/elect", body: `{"broker":2}`, status: bad},
		{name: "elect trailing data", method: "POST", path: G + "/elect", body: `{"brokerId":2}{}`, status: bad},
		{name: "elect brokerId 0", method: "POST", path: G + "/elect", body: `{"brokerId":0}`, status: bad},
		{name: "elect brokerId -1", method: "POST", path: G + "/elect", body: `{"brokerId":-1}`, status: bad},
		{name: "elect brokerId abc", method: "POST", path: G + "/elect", body: `{"brokerId":"abc"}`, status: bad},
		{name: "elect brokerId too large", method: "POST", path: G + "/elect", body: `{"brokerId":` + big + `}`, status: bad},
		{name: "elect brokerId 1e30", method: "POST", path: G + "/elect", body: `{"brokerId":1e30}`, status: bad},
		{name: "elect body over 1 MiB", method: "POST", path: G + "/elect", body: `{"brokerId":2` + strings.Repeat(" ", 1<<20) + `}`, status: long},

		// SyncStateSet changes.
		{name: "sync-state-set duplicate ids", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2,2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set id 0", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[0,1],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set id -2", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,-2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set id string", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,"2"],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set not a list", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":2,"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set null list", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":null,"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set empty object", method: "POST", path: sss, body: `{}`, status: bad},
		{name: "sync-state-set missing syncStateSet", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set missing masterEpoch", method: "POST", path: sss, body: `{"masterBrokerId":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set missing syncStateSetEpoch", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2]}`, status: bad},
		{name: "sync-state-set missing masterBrokerId", method: "POST", path: sss, body: `{"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set negative masterEpoch", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":-1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set negative syncStateSetEpoch", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":-1}`, status: bad},
		{name: "sync-state-set masterEpoch string", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":"x","syncStateSet":[1,2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set masterEpoch too large", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":` + big + `,"syncStateSet":[1,2],"syncStateSetEpoch":1}`, status: bad},
		{name: "sync-state-set malformed JSON", method: "POST", path: sss, body: `{"masterBrokerId":1,`, status: bad},
		{name: "sync-state-set unknown field", method: "POST", path: sss, body: `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1,"force":true}`, status: bad},

		// Runtime configuration patches: none may change anything.
		{name: "config unknown key", method: "PATCH", path: cfg, body: `{"foo":1}`, status: bad},
		{name: "config unknown key with a valid one", method: "PATCH", path: cfg, body: `{"paused":true,"foo":1}`, status: bad},
		{name: "config key of another case", method: "PATCH", path: cfg, body: `{"Paused":true}`, status: bad},
		{name: "config paused string", method: "PATCH", path: cfg, body: `{"paused":"yes"}`, status: bad},
		{name: "config enableElectUncleanMaster number", method: "PATCH", path: cfg, body: `{"enableElectUncleanMaster":1}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs 100", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":100}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs 100 with a valid key", method: "PATCH", path: cfg, body: `{"paused":true,"defaultHeartbeatTimeoutMs":100}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs 1999", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":1999}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs 600001", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":600001}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs -1", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":-1}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs string", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":"10000"}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs 1e30", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":1e30}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs too large for int64", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":` + big + `}`, status: bad},
		{name: "config defaultHeartbeatTimeoutMs max int64", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":9223372036854775807}`, status: bad},
		// 2^58+5000 ms is 5000 ms modulo 2^64 ns.
		{name: "config defaultHeartbeatTimeoutMs overflowing to 5000", method: "PATCH", path: cfg, body: `{"defaultHeartbeatTimeoutMs":288230376151716744}`, status: bad},
		{name: "config pausedGroups without slash", method: "PATCH", path: cfg, body: `{"pausedGroups":["nogroup"]}`, status: bad},
		{name: "config pausedGroups bad name", method: "PATCH", path: cfg, body: `{"pausedGroups":["c/a b"]}`, status: bad},
		{name: "config pausedGroups empty group", method: "PATCH", path: cfg, body: `{"pausedGroups":["c/"]}`, status: bad},
		{name: "config pausedGroups dot cluster", method: "PATCH", path: cfg, body: `{"pausedGroups":["./g"]}`, status: bad},
		{name: "config pausedGroups string", method: "PATCH", path: cfg, body: `{"pausedGroups":"c/g"}`, status: bad},
		{name: "config pausedGroups numbers", method: "PATCH", path: cfg, body: `{"pausedGroups":[5]}`, status: bad},
		{name: "config pausedGroups null member", method: "PATCH", path: cfg, body: `{"pausedGroups":[null]}`, status: bad},
		{name: "config malformed JSON", method: "PATCH", path: cfg, body: `{"paused":`, status: bad},
		{name: "config empty body", method: "PATCH", path: cfg, body: ``, status: bad},
		{name: "config null body", method: "PATCH", path: cfg, body: `null`, status: bad},
		{name: "config JSON array", method: "PATCH", path: cfg, body: `[]`, status: bad},
		{name: "config trailing data", method: "PATCH", path: cfg, body: `{"paused":true} {}`, status: bad},
		{name: "config trailing ]", method: "PATCH", path: cfg, body: `{"paused":true}]`, status: bad},
		{name: "config body over 1 MiB", method: "PATCH", path: cfg, body: `{"paused":true` + strings.Repeat(" ", 1<<20) + `}`, status: long},

		// Routes and methods.
		{name: "unknown route", method: "GET", path: "/v1/nope", status: 404},
		{name: "unknown route at the root", method: "GET", path: "/nope", status: 404},
		{name: "unknown route below a group", method: "GET", path: G + "/nope", status: 404},
		{name: "unknown version", method: "GET", path: "/v2/clusters", status: 404},
		{name: "wrong method on clusters", method: "PUT", path: "/v1/clusters", body: `{}`, status: 405},
		{name: "wrong method on config", method: "DELETE", path: cfg, status: 405},
		{name: "wrong method on a group", method: "POST", path: G, body: `{}`, status: 405},
		{name: "wrong method on brokers", method: "GET", path: G + "/brokers", status: 405},
		{name: "wrong method on a broker", method: "POST", path: G + "/brokers/2", body: `{}`, status: 405},
		{name: "wrong method on heartbeat", method: "POST", path: hb, body: `{}`, status: 405},
		{name: "wrong method on elect", method: "GET", path: G + "/elect", status: 405},
		{name: "wrong method on sync-state-set", method: "PUT", path: sss, body: `{}`, status: 405},
		{name: "wrong method on history", method: "DELETE", path: G + "/history", status: 405},
		{name: "wrong method on healthz", method: "POST", path: "/healthz", status: 405},
	}

	// Bad cluster and group names, on every route that takes them.
	names := []struct {
		name, seg string
		status    int
		alt       int
	}{
		{"128-char name", name128, bad, 0},
		{"name .", ".", bad, 0},
		{"name ..", "..", bad, 0},
		{"name a b", "a%20b", bad, 0},
		// An escaped slash splits the path segment for the router: a client
		// cannot name such a group, so an unknown route (404) is fine too.
		{"name a/b", "a%2Fb", bad, 404},
		{"name é", "%C3%A9", bad, 0},
		{"name with a colon", "a:b", bad, 0},
	}
	for _, n := range names {
		for _, r := range []struct{ what, method, suffix, body string }{
			{"register", "POST", "/brokers", okR},
			{"heartbeat", "PUT", "/brokers/2/heartbeat", `{}`},
			{"resign", "DELETE", "/brokers/2/lease", ""},
			{"remove broker", "DELETE", "/brokers/2?force=true", ""},
			{"get group", "GET", "", ""},
			{"remove group", "DELETE", "?force=true", ""},
			{"sync-state-set", "POST", "/sync-state-set", `{"masterBrokerId":1,"masterEpoch":1,"syncStateSet":[1,2],"syncStateSetEpoch":1}`},
			{"elect", "POST", "/elect", `{"brokerId":2}`},
			{"history", "GET", "/history", ""},
		} {
			rows = append(rows,
				badInput{name: r.what + " cluster " + n.name, method: r.method, path: "/v1/clusters/" + n.seg + "/groups/g" + r.suffix,
					body: r.body, status: n.status, alt: n.alt},
				badInput{name: r.what + " group " + n.name, method: r.method, path: "/v1/clusters/c/groups/" + n.seg + r.suffix,
					body: r.body, status: n.status, alt: n.alt})
		}
		rows = append(rows, badInput{name: "list groups of cluster " + n.name, method: "GET", path: "/v1/clusters/" + n.seg + "/groups",
			status: n.status, alt: n.alt})
	}
	// A group name with an escaped slash must not reach another route.
	rows = append(rows,
		badInput{name: "history of group g%2Fhistory", method: "GET", path: "/v1/clusters/c/groups/g%2Fhistory", status: bad, alt: 404},
		badInput{name: "remove group g%2Fbrokers%2F2", method: "DELETE", path: "/v1/clusters/c/groups/g%2Fbrokers%2F2?force=true", status: bad, alt: 404})
	return rows
}

// snapshot is everything a bad input must leave alone: the group with its
// index, the runtime configuration and the list of clusters.
func snapshot(t *testing.T, base string) string {
	t.Helper()
	var s strings.Builder
	for _, path := range []string{G, "/v1/config", "/v1/clusters"} {
		status, h, body := do(t, "GET", base+path, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %s", path, status, body)
		}
		s.WriteString(path + " " + h.Get("X-Ledgerless-Index") + " " + string(body) + "\n")
	}
	return s.String()
}

func TestBadInput(t *testing.T) {
	base := newServer(t)
	// Long heartbeat timeouts: no lease may expire while the table runs.
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1","heartbeatTimeoutMs":600000}`)
	register(t, base, G, `{"address":"127.0.0.1:10921","registerCode":"code-2","heartbeatTimeoutMs":600000}`)
	call(t, http.StatusOK, "PUT", base+G+"/brokers/2/heartbeat", `{"epoch":1,"maxOffset":10}`)
	want := snapshot(t, base)
	for _, c := range badInputs() {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := do(t, c.method, base+c.path, c.body)
			if status >= 500 {
				t.Errorf("%s %s: bad input answered %d", c.method, c.path, status)
			}
			wantStatus := c.status
			if c.alt != 0 && status == c.alt {
				wantStatus = c.alt
			}
			problem(t, status, h, body, wantStatus, "INVALID_REQUEST", 2005)
			title := "Invalid request"
			if status != http.StatusBadRequest {
				title = http.StatusText(status) // 404, 405, 413
			}
			if !bytes.Contains(body, []byte(`"title":"`+title+`"`)) {
				t.Errorf("%s %s: title is not %q: %s", c.method, c.path, title, body)
			}
			if got := snapshot(t, base); got != want {
				t.Errorf("%s %s changed the state:\nbefore: %s\nafter:  %s", c.method, c.path, want, got)
				want = got
			}
		})
	}
}
