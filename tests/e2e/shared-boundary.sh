#!/bin/bash
# The module boundary: $B/shared-bin/ holds resyncctl and every tool linked
# against libresync.so, which exports only the public API, so they link only
# if nothing outside engine/ uses an engine internal.  Each must be there
# (one per tools/*/main.c), load the shared library it was linked to, and do
# one real job.
. "$(dirname "$0")/lib.bash"
cd "$ROOT"
SB="$ROOT/$B/shared-bin"

for t in resyncctl $(ls tools/*/main.c | cut -d/ -f2); do
	[ -x "$SB/$t" ] || fail "$SB/$t was not built (make all builds it)"
	so=$(ldd "$SB/$t" | awk '$1 == "libresync.so.0" {print $3}')
	[ -n "$so" ] && [ "$(readlink -f "$so")" = "$(readlink -f "$B/libresync.so.0")" ] ||
		fail "$t is not linked against $B/libresync.so: $(ldd "$SB/$t" | grep resync)"
done

head -c 3000000 /dev/urandom >"$TMP/src"
head -c 3000000 /dev/urandom >"$TMP/dst"
expect_rc 0 "$SB/resync" copy "$TMP/src" "$TMP/dst"
same "$TMP/src" "$TMP/dst"

printf '0 4096\n65536 8K\n' >"$TMP/ext"
expect_rc 0 "$SB/resync-bitmap" create --size 1M --granularity 4K --extents "$TMP/ext" "$TMP/bm"
expect_rc 0 "$SB/resync-bitmap" dump "$TMP/bm"
grep -q '^65536 8192$' "$TMP/out" || fail "resync-bitmap dump: $(cat "$TMP/out")"

expect_rc 0 "$SB/resyncctl" --state-dir "$TMP/state" --json job list
echo "resyncctl and the tools run against the shared library"
