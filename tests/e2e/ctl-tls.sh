#!/bin/bash
# resyncctl onto an NBD target that requires TLS (nbdkit --tls=require with a
# PSK file): the settings' tls object carries the credentials; a wrong key is
# access denied (32769, exit 2) and changes nothing; the right one completes
# and the target is byte-identical.
. "$(dirname "$0")/lib.bash"
# A worker still running when the script stops (a failed step) is killed.
kill_jobs() {
	[ -d "$TMP/state" ] || return 0
	resyncctl --state-dir "$TMP/state" --json job list 2>/dev/null | grep -o '"InstanceID":"[^"]*"' |
		cut -d'"' -f4 | while read -r j; do resyncctl --state-dir "$TMP/state" job kill "$j" >/dev/null 2>&1 || true; done
}
for t in nbdkit psktool; do command -v $t >/dev/null || skip "$t not installed"; done
stop_server() {
	kill_jobs
	[ -f "$TMP/nbdkit.pid" ] && kill "$(cat "$TMP/nbdkit.pid")" 2>/dev/null
	cleanup
}
trap stop_server EXIT
ctl() { resyncctl --state-dir "$TMP/state" "$@"; }

psktool -u alice -p "$TMP/keys.psk" >/dev/null
psktool -u alice -p "$TMP/wrong.psk" >/dev/null
head -c 8M /dev/urandom >"$TMP/rp.img"
truncate -s 8M "$TMP/primary.img"
nbdkit -P "$TMP/nbdkit.pid" -U "$TMP/tls.sock" --tls=require --tls-psk="$TMP/keys.psk" file "$TMP/primary.img"
for _ in $(seq 100); do [ -S "$TMP/tls.sock" ] && break; sleep 0.05; done

expect_rc 0 ctl vm add sec --disk "d0=nbds+unix:///?socket=$TMP/tls.sock"
expect_rc 0 ctl recovery-point add sec rp1 --disk "d0=$TMP/rp.img"
expect_rc 0 ctl failover sec
before=$(md5sum <"$TMP/primary.img")
expect_rc 2 ctl failback sec --settings "{\"tls\": {\"psk_file\": \"$TMP/wrong.psk\", \"username\": \"alice\"}}"
[ "$(md5sum <"$TMP/primary.img")" = "$before" ] || fail "a refused failback wrote the target"
expect_rc 0 ctl --json job list
[ "$(grep -c InstanceID "$TMP/out" || true)" = 0 ] || fail "a refused failback left a job"
expect_rc 0 ctl failback sec --wait --timeout 60 \
	--settings "{\"tls\": {\"psk_file\": \"$TMP/keys.psk\", \"username\": \"alice\"}}"
same "$TMP/primary.img" "$TMP/rp.img"
echo "ctl-tls: wrong key refused, right key identical"
