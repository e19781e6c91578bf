#!/usr/bin/env bash
# try.sh: the README's "Try it", against a fresh controller.
#
#   bin/ledgerless serve &        # or: go run ./cmd/ledgerless serve &
#   examples/try.sh
#
# Two brokers register in group c1/g1 and heartbeat in the background, as
# brokers do; the master adds the slave to the SyncStateSet; then the
# master resigns (a clean shutdown: its successor is master at once), comes
# back as a slave, and the new master stops heartbeating (a crash: its
# successor is master once its lease runs out, 2 s here). A reader
# long-polls the group throughout, with the index from the
# X-Ledgerless-Index header of the answer before.
#
# It needs bash, curl and sed. LEDGERLESS_URL names the controller
# (default http://127.0.0.1:9878); with LEDGERLESS naming the ledgerless
# binary (or `ledgerless` on the PATH) it also prints the group with the
# CLI at the end. It exits 0 when every step went as described, else 1;
# its background heartbeats stop when it exits, however it exits.
set -euo pipefail

url=${LEDGERLESS_URL:-http://127.0.0.1:9878}
g=$url/v1/clusters/c1/groups/g1
tmp=$(mktemp -d)
declare -A beating=() # broker id -> pid of its heartbeat loop

cleanup() {
	for pid in "${beating[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { printf '\n# %s\n' "$*"; }
fail() { echo "try.sh: $*" >&2; exit 1; }
# field NAME: the first "NAME": value (a number or null) in standard input.
field() { { grep -o "\"$1\":[0-9a-z]*" || true; } | sed -n '1s/.*://p'; }

# heartbeat ID: every 500 ms until stopped, in the background.
heartbeat() {
	(
		while :; do
			curl -s -o /dev/null --max-time 2 -XPUT "$g/brokers/$1/heartbeat" \
				-d '{"epoch":1,"maxOffset":1024,"confirmOffset":1000,"electionPriority":0,"heartbeatTimeoutMs":2000}' || true
			sleep 0.5
		done
	) &
	beating[$1]=$!
}
stop_heartbeat() { kill "${beating[$1]}"; unset "beating[$1]"; }

# read_group: GET the group; its body to $tmp/group, its index to $index.
read_group() {
	curl -sf -D "$tmp/headers" -o "$tmp/group" "$g$1" || fail "GET $g$1 failed"
	index=$(sed -n 's/^[Xx]-[Ll]edgerless-[Ii]ndex: *\([0-9]*\).*/\1/p' "$tmp/headers")
	[ -n "$index" ] || fail "no X-Ledgerless-Index header"
}

# wait_master OLD: long-poll the group until its master is not OLD, at
# most 30 s; prints the answer and sets $master and $epoch.
wait_master() {
	local deadline=$((SECONDS + 30))
	while :; do
		read_group "?index=$index&wait=10s"
		master=$(field masterBrokerId <"$tmp/group")
		epoch=$(field masterEpoch <"$tmp/group")
		[ "$master" != "$1" ] && break
		[ "$SECONDS" -lt "$deadline" ] || fail "master still $1 after 30 s"
	done
	cat "$tmp/group"
}

curl -sf -o /dev/null "$url/readyz" || fail "no controller ready at $url (start one: ledgerless serve)"

say "A broker registers (its registerCode is what it persists with its id): the group's first master."
curl -s -XPOST "$g/brokers" \
	-d '{"address":"127.0.0.1:10911","registerCode":"try-broker-a","heartbeatTimeoutMs":2000}' | tee "$tmp/a"
a=$(field brokerId <"$tmp/a")
[ -n "$a" ] || fail "registration answered no brokerId"
heartbeat "$a"

say "A second broker joins as a slave and heartbeats too."
curl -s -XPOST "$g/brokers" \
	-d '{"address":"127.0.0.1:10921","registerCode":"try-broker-b","heartbeatTimeoutMs":2000}' | tee "$tmp/b"
b=$(field brokerId <"$tmp/b")
heartbeat "$b"

read_group ""
master=$(field masterBrokerId <"$tmp/group")
epoch=$(field masterEpoch <"$tmp/group")
sse=$(field syncStateSetEpoch <"$tmp/group")
[ "$master" = "$a" ] || fail "master is $master, want broker $a (is this controller fresh?)"
echo "master: broker $master, masterEpoch $epoch, X-Ledgerless-Index: $index"

say "The master adds the slave to the SyncStateSet (the epochs it acts on are checked)."
curl -s -XPOST "$g/sync-state-set" \
	-d "{\"masterBrokerId\":$a,\"masterEpoch\":$epoch,\"syncStateSet\":[$a,$b],\"syncStateSetEpoch\":$sse}"
read_group ""

say "The master shuts down cleanly: it stops heartbeating and resigns; the slave is master at once."
stop_heartbeat "$a"
curl -s -o /dev/null -w 'DELETE lease: %{http_code}\n' -XDELETE "$g/brokers/$a/lease"
wait_master "$a"
[ "$master" = "$b" ] || fail "master is $master after the resignation, want broker $b"
echo "master: broker $master, masterEpoch $epoch (resigned)"

say "The old master comes back as a slave; the new master adds it to the SyncStateSet."
heartbeat "$a"
sleep 1
read_group ""
sse=$(field syncStateSetEpoch <"$tmp/group")
curl -s -XPOST "$g/sync-state-set" \
	-d "{\"masterBrokerId\":$b,\"masterEpoch\":$epoch,\"syncStateSet\":[$a,$b],\"syncStateSetEpoch\":$sse}"
read_group ""

say "The new master crashes: no more heartbeats, no resignation; its lease runs out (2 s) and broker $a is master."
stop_heartbeat "$b"
start=$SECONDS
wait_master "$b"
[ "$master" = "$a" ] || fail "master is $master after the crash, want broker $a"
echo "master: broker $master, masterEpoch $epoch (lease expired, ~$((SECONDS - start)) s)"

say "The group's history, newest first."
curl -s "$g/history"

cli=${LEDGERLESS:-ledgerless}
if command -v "$cli" >/dev/null; then
	say "The same group through the CLI."
	"$cli" --controller "$url" group get c1 g1
fi
echo
echo "try.sh: ok"
