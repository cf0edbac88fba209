#!/bin/bash
# doc/nbd.md's table of ctl return values is what resyncctl returns: each
# row this script can cause with real components (a malformed URI, a missing
# socket, a socket nobody accepts on, a read-only nbdkit export, a server
# that never answers the handshake) is run through resyncctl failback, and
# its ReturnValue compared with the one the table gives for that row.
. "$(dirname "$0")/lib.bash"
command -v nbdkit >/dev/null || skip "nbdkit not installed"
stop() {
	[ -f "$TMP/ro.pid" ] && kill "$(cat "$TMP/ro.pid")" 2>/dev/null
	[ -n "${SILENT:-}" ] && kill "$SILENT" 2>/dev/null
	cleanup
}
trap stop EXIT

# The table: condition (first cell) -> the ctl return value (last cell).
table() { # table PREFIX -> the value of the row starting with PREFIX
	awk -F'|' -v p="$1" '/^\| condition \| errno \| ctl return value \|/ { t = 1; next }
		t && /^\|/ { c = $2; sub(/^ +/, "", c); if (index(c, p) == 1) { v = $(NF - 1); gsub(/ /, "", v); print v; exit } }
		t && !/^\|/ { t = 0 }' "$ROOT/doc/nbd.md"
}
head -c 1M /dev/urandom >"$TMP/rp.img"
head -c 1M /dev/urandom >"$TMP/t.img"
n=0
row() { # row PREFIX TARGET [SETTINGS]
	local want got
	want=$(table "$1")
	[[ "$want" =~ ^[0-9]+$ ]] || fail "doc/nbd.md: row \"$1\" has no single return value: \"$want\""
	rm -rf "$TMP/state"
	resyncctl --state-dir "$TMP/state" vm add v --disk "d0=$2" >/dev/null
	resyncctl --state-dir "$TMP/state" recovery-point add v r --disk "d0=$TMP/rp.img" >/dev/null
	resyncctl --state-dir "$TMP/state" failover v >/dev/null
	set +e
	resyncctl --state-dir "$TMP/state" --json failback v --settings "${3:-{\}}" >"$TMP/out" 2>"$TMP/err"
	set -e
	got=$(json_field "$TMP/out" ReturnValue)
	[ "$got" = "$want" ] || fail "\"$1\": resyncctl returned $got, doc/nbd.md says $want: $(cat "$TMP/out")"
	echo "ok: $1 -> $got"
	n=$((n + 1))
}

row "malformed URI" "nbd+unix:///?sockt=$TMP/x.sock"
row "nothing listening, missing socket" "nbd+unix:///?socket=$TMP/none.sock"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/dead.sock"
row "nothing listening, missing socket" "nbd+unix:///?socket=$TMP/dead.sock"
nbdkit -U "$TMP/ro.sock" -P "$TMP/ro.pid" -r file "$TMP/t.img"
for _ in $(seq 100); do [ -S "$TMP/ro.sock" ] && break; sleep 0.1; done
row "read-only export as target" "nbd+unix:///?socket=$TMP/ro.sock"
# A server that accepts and never speaks: the connect timeout decides (the
# setting shortens it; the row's value does not depend on its length).
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
conns = []
while True:
    conns.append(s.accept()[0])' "$TMP/silent.sock" &
SILENT=$!
for _ in $(seq 100); do [ -S "$TMP/silent.sock" ] && break; sleep 0.1; done
row "no answer within" "nbd+unix:///?socket=$TMP/silent.sock" '{"nbd_connect_timeout_ms":1000}'
echo "nbd-return-table: $n rows of doc/nbd.md match resyncctl"
