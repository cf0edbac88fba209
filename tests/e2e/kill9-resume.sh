#!/bin/bash
# kill -9 of `resync copy` at random moments, then a rerun with the same
# checkpoint: the end result is byte-identical, and each rerun's plan is no
# larger than what the killed run had left plus one checkpoint interval and
# the requests in flight.  24 kills over full, compare and extent-list copies
# onto files and a loop device.
. "$(dirname "$0")/lib.bash"

MiB=$((1024 * 1024))
size=$((48 * MiB + 4096 * 3))
interval=$((2 * MiB))
inflight=$((4 * 256 * 1024))
head -c $size /dev/urandom >"$TMP/src"
RANDOM=$$
kills=0

# A target that differs from the source in every 7th 64 KiB block, and the
# extent list naming those blocks.
make_delta_target() {
	cp "$TMP/src" "$1"
	: >"$TMP/extents"
	local blk
	for ((blk = 0; blk * 65536 < size; blk += 7)); do
		printf 'XXXXXXXX' | dd of="$1" bs=1 seek=$((blk * 65536 + 10)) conv=notrunc status=none
		echo "$((blk * 65536)) 65536" >>"$TMP/extents"
	done
	# The last block is short.
	echo "$(( (size / 65536) * 65536 )) $((size % 65536))" >>"$TMP/extents"
}

run_with_kills() { # run_with_kills TARGET MODE-ARGS...
	local dst=$1; shift
	rm -f "$TMP/ck"
	local planned_left=$size k
	for k in 1 2 3 4 5 6; do
		resync copy "$TMP/src" "$dst" "$@" --checkpoint "$TMP/ck" --checkpoint-bytes $interval \
			--checkpoint-interval 0 --queue-depth 4 --request-size 256K --rate "${RATE:-40M}" \
			--json --progress-interval 10 >"$TMP/run$k" 2>&1 &
		local pid=$!
		sleep "$(printf "0.%03d" $((RANDOM % 100 + 50)))"
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		kills=$((kills + 1))
		local planned done_
		planned=$(json_field "$TMP/run$k" bytes_planned)
		done_=$(json_field "$TMP/run$k" bytes_done)
		! grep -q '"event":"result"' "$TMP/run$k" ||
			fail "kill $kills came after the copy finished: the rate limit is too high to test"
		[ -n "$planned" ] || continue
		# This run planned at most what the last one left, plus slack.
		[ "$planned" -le $((planned_left + interval + inflight)) ] ||
			fail "kill $kills: run planned $planned bytes, but only $planned_left (+$((interval + inflight)) slack) remained"
		planned_left=$((planned - done_))
	done
	resync copy "$TMP/src" "$dst" "$@" --checkpoint "$TMP/ck" --stats >"$TMP/final" 2>&1 ||
		fail "final run failed: $(cat "$TMP/final")"
	local final_planned
	final_planned=$(json_field "$TMP/final" bytes_planned)
	[ "$final_planned" -le $((planned_left + interval + inflight)) ] ||
		fail "final run planned $final_planned bytes, only $planned_left (+slack) remained"
	[ ! -e "$TMP/ck" ] || fail "checkpoint left behind after success"
}

head -c $size /dev/urandom >"$TMP/dst1"
run_with_kills "$TMP/dst1" --full
same "$TMP/src" "$TMP/dst1"

make_delta_target "$TMP/dst2"
run_with_kills "$TMP/dst2" --compare
same "$TMP/src" "$TMP/dst2"

make_delta_target "$TMP/dst3"
RATE=5M run_with_kills "$TMP/dst3" --extents "$TMP/extents"
same "$TMP/src" "$TMP/dst3"

head -c $size /dev/urandom >"$TMP/dst4"
dev=$(loop_attach "$TMP/dst4") || skip "no loop devices on this machine"
run_with_kills "$dev" --full
cmp -s -n $size "$TMP/src" "$dev" || fail "loop device target differs from the source"

[ $kills -ge 20 ] || fail "only $kills kills"
echo "$kills kills, every result identical"
