#!/bin/bash
# The resync tool's contract: exit status per outcome (0 done/equal, 1 error,
# 2 usage, 3 differences, 4 interrupted), JSON progress and result lines, and
# messages that name the problem.
. "$(dirname "$0")/lib.bash"

head -c 5000000 /dev/urandom >"$TMP/src"
cp "$TMP/src" "$TMP/same"
head -c 5000000 /dev/urandom >"$TMP/dst"

expect_rc 2 resync
expect_rc 0 resync --help
grep -q "usage: resync copy" "$TMP/out" || fail "--help printed no usage"
expect_rc 2 resync frobnicate a b
grep -q "unknown command 'frobnicate'" "$TMP/err" || fail "unknown command not named"
expect_rc 2 resync copy "$TMP/src"
# An nbd+vsock:// name is an NBD endpoint (libnbd's scheme), not a file name.
RESYNC_NBD_CONNECT_TIMEOUT_MS=1000 expect_rc 1 resync copy 'nbd+vsock://1:9/x' "$TMP/dst"
grep -q "source nbd+vsock://1:9/x: connect: " "$TMP/err" || fail "vsock URI: $(cat "$TMP/err")"
expect_rc 2 resync copy "$TMP/src" "$TMP/dst" --rate fast
grep -q -- "--rate needs a number" "$TMP/err" || fail "bad --rate not named"
expect_rc 2 resync copy "$TMP/src" "$TMP/dst" --request-size 3000
grep -q -- "--request-size" "$TMP/err" || fail "bad --request-size not named"
expect_rc 2 resync copy "$TMP/src" "$TMP/dst" --full --compare
expect_rc 2 resync compare "$TMP/src" "$TMP/dst" --checkpoint "$TMP/ck"

expect_rc 1 resync copy "$TMP/missing" "$TMP/dst"
grep -q "source $TMP/missing: No such file or directory" "$TMP/err" || fail "missing source not named: $(cat "$TMP/err")"

expect_rc 0 resync compare "$TMP/src" "$TMP/same"
expect_rc 3 resync compare "$TMP/src" "$TMP/dst"
grep -q "first difference at offset" "$TMP/err" || fail "compare did not say where"
expect_rc 3 resync verify "$TMP/src" "$TMP/dst" --json
# The result names the errno (its number differs between architectures).
grep -q '"event":"result".*"status":3,"errno":"EILSEQ"' "$TMP/out" || fail "verify --json result: $(cat "$TMP/out")"
# Strings are JSON-escaped: a quote, a backslash and a tab in a path.
bad=$(printf '%s/a"b\\c\td' "$TMP")
expect_rc 1 resync copy "$bad" "$TMP/dst" --json
grep -qF '"errno":"ENOENT","error":"source '"$TMP"'/a\"b\\c\td: No such file or directory"' "$TMP/out" ||
	fail "--json error string: $(cat "$TMP/out")"

expect_rc 0 resync copy "$TMP/src" "$TMP/dst" --json --progress-interval 1 --rate 50M
grep -q '"event":"progress"' "$TMP/out" || fail "no JSON progress lines"
tail -1 "$TMP/out" | grep '"event":"result".*"bytes_written":5000000.*"status":0' >/dev/null ||
	fail "JSON result: $(tail -1 "$TMP/out")"
same "$TMP/src" "$TMP/dst"

# Interrupted: SIGINT drains, checkpoints and exits 4; a rerun resumes.
head -c 5000000 /dev/urandom >"$TMP/dst"
resync copy "$TMP/src" "$TMP/dst" --rate 2M --checkpoint "$TMP/ck" 2>"$TMP/err" &
pid=$!
sleep 0.5
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 4 ] || fail "interrupted copy exited $rc, want 4"
grep -q "resync: cancelled" "$TMP/err" || fail "interrupt not reported: $(cat "$TMP/err")"
[ -s "$TMP/ck" ] || fail "no checkpoint after the interrupt"
expect_rc 0 resync copy "$TMP/src" "$TMP/dst" --checkpoint "$TMP/ck" --stats
grep -q '"resumed":true' "$TMP/out" || fail "rerun did not resume"
same "$TMP/src" "$TMP/dst"

# --verify=sample: a change record that missed a changed block is caught
# (64 blocks, a sample of at least 256: every unplanned block is read).
head -c 4194304 /dev/urandom >"$TMP/vsrc"
cp "$TMP/vsrc" "$TMP/vdst"
printf 'x' | dd of="$TMP/vdst" bs=1 seek=70000 conv=notrunc status=none
printf 'y' | dd of="$TMP/vdst" bs=1 seek=2700000 conv=notrunc status=none
resync-bitmap create --size 4M --granularity 64K --extents <(echo "65536 65536") "$TMP/vbm"
expect_rc 2 resync copy "$TMP/vsrc" "$TMP/vdst" --bitmap "$TMP/vbm" --verify=most
grep -q -- "--verify takes planned, sample or full, not 'most'" "$TMP/err" || fail "bad --verify not named"
expect_rc 3 resync copy "$TMP/vsrc" "$TMP/vdst" --bitmap "$TMP/vbm" --verify=sample --stats
grep -q "missed a changed block.*rerun with --compare" "$TMP/err" || fail "lying change record not reported: $(cat "$TMP/err")"
grep -q '"verify_unplanned_diff":true' "$TMP/out" || fail "stats: $(cat "$TMP/out")"
expect_rc 0 resync copy "$TMP/vsrc" "$TMP/vdst" --compare --verify=sample
same "$TMP/vsrc" "$TMP/vdst"
printf 'z' | dd of="$TMP/vdst" bs=1 seek=70000 conv=notrunc status=none
expect_rc 0 resync copy "$TMP/vsrc" "$TMP/vdst" --bitmap "$TMP/vbm" --verify=planned --stats
grep -q '"bytes_verified":65536,' "$TMP/out" || fail "--verify=planned read more than the plan: $(cat "$TMP/out")"
expect_rc 0 resync copy "$TMP/vsrc" "$TMP/vdst" --bitmap "$TMP/vbm" --verify=full --stats
grep -q '"bytes_verified":4194304,' "$TMP/out" || fail "--verify=full is not full: $(cat "$TMP/out")"
# --verify alone after a delta copy: the copied block plus the sample (256
# blocks of 64 KiB out of 1024), not the whole disk.
head -c 64M /dev/urandom >"$TMP/vsrc"
cp "$TMP/vsrc" "$TMP/vdst"
printf 'z' | dd of="$TMP/vdst" bs=1 seek=70000 conv=notrunc status=none
resync-bitmap create --size 64M --granularity 64K --extents <(echo "65536 65536") "$TMP/vbm"
expect_rc 0 resync copy "$TMP/vsrc" "$TMP/vdst" --bitmap "$TMP/vbm" --verify --stats
grep -q '"bytes_verified":16842752,' "$TMP/out" || fail "--verify is not planned + sample: $(cat "$TMP/out")"
same "$TMP/vsrc" "$TMP/vdst"
echo "resync CLI contract holds"
