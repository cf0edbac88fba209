#!/bin/bash
# A checkpoint is bound to what the endpoints are, not to their names.
# `resync copy` onto a loop device is killed (-9) part-way; the device is
# detached and another file attached at the same /dev/loopN: the rerun must
# not resume (it says why) and the second file ends identical to the source.
# Then a source replaced at the same path: no resume either, target identical
# to the new source.  Kills come at points of the reported progress.
. "$(dirname "$0")/lib.bash"

MiB=$((1024 * 1024))
size=$((24 * MiB))
head -c $size /dev/urandom >"$TMP/src"
head -c $size /dev/urandom >"$TMP/a"
head -c $size /dev/urandom >"$TMP/b"

said() { grep -v '^{' "$1" | tail -3 | tr '\n' ' '; }

# copy_killed TARGET: a checkpointed copy killed once it reports 8 MiB done.
copy_killed() {
	resync copy "$TMP/src" "$1" --checkpoint "$TMP/ck" --checkpoint-bytes 1M --rate 16M \
		--json --progress-interval 10 >"$TMP/killed" 2>&1 &
	local pid=$! done_ deadline=$((SECONDS + 300))
	while kill -0 $pid 2>/dev/null; do
		done_=$(json_field "$TMP/killed" bytes_done)
		if [ -n "$done_" ] && [ "$done_" -ge $((8 * MiB)) ]; then
			kill -9 $pid
			break
		fi
		[ $SECONDS -lt $deadline ] || fail "no progress in 300 s: $(said "$TMP/killed")"
		sleep 0.005
	done
	local status=0
	wait $pid 2>/dev/null || status=$?
	[ $status = 137 ] || fail "the copy was not killed (exit $status): $(said "$TMP/killed")"
	[ -e "$TMP/ck" ] || fail "no checkpoint after the kill"
}

rerun_not_resumed() { # rerun_not_resumed TARGET REASON
	resync copy "$TMP/src" "$1" --checkpoint "$TMP/ck" --stats -v >"$TMP/rerun" 2>&1 ||
		fail "rerun failed: $(said "$TMP/rerun")"
	grep -q '"resumed":false' "$TMP/rerun" || fail "resumed onto another endpoint: $(cat "$TMP/rerun")"
	grep -q '"resume_refused":true' "$TMP/rerun" || fail "no refusal reported: $(cat "$TMP/rerun")"
	grep -q "not resumed, starting over: .*$2" "$TMP/rerun" ||
		fail "the reason does not say '$2': $(cat "$TMP/rerun")"
	[ "$(json_field "$TMP/rerun" bytes_planned)" = $size ] || fail "did not start over: $(cat "$TMP/rerun")"
}

dev=$(loop_attach "$TMP/a") || skip "no loop devices on this machine"
copy_killed "$dev"
losetup -d "$dev"
# Detaching completes when the dead run's ring lets go of the device.
for ((i = 0; i < 1500; i++)); do
	losetup "$dev" "$TMP/b" 2>/dev/null && break
	sleep 0.02
done
[ "$(losetup -n -O BACK-FILE "$dev" 2>/dev/null)" = "$TMP/b" ] ||
	skip "$dev was taken by another program before it could be reused"
rerun_not_resumed "$dev" "the target $dev is not the file or device it was made for"
cmp -s "$TMP/src" "$dev" || fail "the second file behind $dev differs from the source"

head -c $size /dev/urandom >"$TMP/dst"
copy_killed "$TMP/dst"
head -c $size /dev/urandom >"$TMP/src.new"
mv "$TMP/src.new" "$TMP/src"
rerun_not_resumed "$TMP/dst" "the source $TMP/src is not the file or device it was made for"
same "$TMP/src" "$TMP/dst"
echo "checkpoint-identity: another file at $dev and a replaced source both started over, identical"
