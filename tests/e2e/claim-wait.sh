#!/bin/bash
# A target file locked by another run (here flock(1)) is waited for, and the
# wait is said: `resync copy -v` reports "waited N ms for the target to come
# free", the JSON result claim_wait_ms, and nothing is written before the
# lock comes free.  The lock is released once resync is seen holding the
# target open (its descriptor in /proc), never after a sleep.
. "$(dirname "$0")/lib.bash"
command -v flock >/dev/null || skip "flock(1) not installed"

size=$((8 * 1024 * 1024))
head -c $size /dev/urandom >"$TMP/src"
head -c $size /dev/urandom >"$TMP/dst"
cp "$TMP/dst" "$TMP/dst.before"

flock -x "$TMP/dst" -c "while [ ! -e '$TMP/release' ]; do sleep 0.01; done" &
holder=$!
# However the script ends, the holder is let go before the scratch directory goes.
trap 'touch "$TMP/release"; wait $holder 2>/dev/null; cleanup' EXIT
# flock(1) holds the lock once its command runs.
for ((i = 0; i < 3000; i++)); do
	pgrep -P $holder >/dev/null && break
	sleep 0.01
done
pgrep -P $holder >/dev/null || fail "flock(1) did not take the lock"

resync copy "$TMP/src" "$TMP/dst" -v --stats >"$TMP/out" 2>"$TMP/err" &
pid=$!
opened=
for ((i = 0; i < 3000; i++)); do
	for fd in /proc/$pid/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$TMP/dst" ] && opened=1
	done
	[ -n "$opened" ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.01
done
[ -n "$opened" ] || fail "resync never opened the target: $(cat "$TMP/err")"
# Holding the target open while it is locked: nothing may have been written.
same "$TMP/dst" "$TMP/dst.before"
touch "$TMP/release"
wait $holder
wait $pid || fail "resync failed: $(cat "$TMP/err")"
grep -q "^resync: waited [1-9][0-9]* ms for the target to come free" "$TMP/err" ||
	fail "the wait was not said: $(cat "$TMP/err")"
[ "$(json_field "$TMP/out" claim_wait_ms)" -gt 0 ] || fail "claim_wait_ms is 0: $(cat "$TMP/out")"
same "$TMP/src" "$TMP/dst"
echo "claim-wait: a locked target was waited for, said so, and ended identical"
