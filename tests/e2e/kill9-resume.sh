#!/bin/bash
# kill -9 of `resync copy` at random points of its progress, then at once a
# rerun with the same checkpoint: every run starts (a killed run's claim on
# the target is waited for, not refused), the end result is byte-identical,
# and each rerun's plan is no larger than what the killed run had left plus
# two checkpoint intervals and twice the requests in flight (a checkpoint's
# flush runs beside the copy, which starts new requests for up to one
# interval past the flush's start and retires those already in flight: a
# kill just before the next checkpoint is saved loses that span and the one
# since; engine/copy.c).  Kills are placed by the
# progress the copy reports, never by elapsed time, so a machine 3x faster or
# slower kills at the same points.  Full, compare and extent-list copies onto
# files and a loop device, and a full copy onto nbdkit (whose checkpoints
# flush beside the writes in flight); `make check` kills 25 times, `make
# stress` 200.
. "$(dirname "$0")/lib.bash"

MiB=$((1024 * 1024))
size=$((48 * MiB + 4096 * 3))
interval=$((2 * MiB))
inflight=$((4 * 256 * 1024))
slack=$((2 * (interval + inflight)))
per_target=$(($(rounds 25 200) / 5))
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

# What a run said when it failed: its own message, not a guess.
said() { grep -v '^{' "$1" | tail -3 | tr '\n' ' '; }

# kill_at_progress PID OUT: once the run's JSON progress shows a random 5-60%
# of its plan done, kill -9 it.  Prints "killed" or, when the run ended
# first, "ended".  Waits for progress, however slow, up to 300 s.
kill_at_progress() {
	local pid=$1 out=$2 pct=$((RANDOM % 56 + 5)) planned done_ deadline=$((SECONDS + 300))
	while kill -0 "$pid" 2>/dev/null; do
		planned=$(json_field "$out" bytes_planned)
		done_=$(json_field "$out" bytes_done)
		if [ -n "$planned" ] && [ -n "$done_" ] && [ "$planned" -gt 0 ] &&
			[ "$done_" -ge $((planned * pct / 100)) ]; then
			kill -9 "$pid" 2>/dev/null && { echo killed; return; }
		fi
		[ $SECONDS -lt $deadline ] || fail "no progress from resync in 300 s: $(said "$out")"
		sleep 0.005
	done
	echo ended
}

# One episode: a fresh copy killed up to three times, each rerun started at
# once, then a last run to the end.  Adds to $kills.
episode() { # episode TARGET MODE-ARGS...
	local dst=$1; shift
	rm -f "$TMP/ck"
	local left=$size k out how status planned done_
	for k in 1 2 3; do
		out="$TMP/run$k"
		resync copy "$TMP/src" "$dst" "$@" --checkpoint "$TMP/ck" --checkpoint-bytes $interval \
			--checkpoint-interval 0 --queue-depth 4 --request-size 256K --rate "${RATE:-40M}" \
			--json --progress-interval 10 -v >"$out" 2>&1 &
		local pid=$!
		how=$(kill_at_progress $pid "$out")
		status=0
		wait $pid 2>/dev/null || status=$?
		planned=$(json_field "$out" bytes_planned)
		done_=$(json_field "$out" bytes_done)
		[ -n "$planned" ] || fail "run $k (kill $kills) reported no plan: $(said "$out")"
		# This run planned at most what the last one left, plus slack.
		[ "$planned" -le $((left + slack)) ] ||
			fail "kill $kills: run planned $planned bytes, but only $left (+$slack slack) remained"
		# A run may end on its own just before the kill reaches it.
		[ "$status" = 0 ] && return 0
		[ "$how" = killed ] && [ "$status" = 137 ] ||
			fail "run $k after kill $kills failed (exit $status): $(said "$out")"
		kills=$((kills + 1))
		left=$((planned - done_))
	done
	resync copy "$TMP/src" "$dst" "$@" --checkpoint "$TMP/ck" --stats -v >"$TMP/final" 2>&1 ||
		fail "the run after kill $kills failed: $(said "$TMP/final")"
	planned=$(json_field "$TMP/final" bytes_planned)
	[ "$planned" -le $((left + slack)) ] ||
		fail "final run planned $planned bytes, only $left (+$slack slack) remained"
	grep -q '"resumed":true' "$TMP/final" || fail "the run after kill $kills did not resume: $(said "$TMP/final")"
	[ ! -e "$TMP/ck" ] || fail "checkpoint left behind after success"
}

storm() { # storm TARGET PREPARE MODE-ARGS...: episodes until per_target kills
	local dst=$1 prepare=$2; shift 2
	local goal=$((kills + per_target))
	while [ $kills -lt $goal ]; do
		$prepare "$dst"
		episode "$dst" "$@"
		cmp -s -n $size "$TMP/src" "${BEHIND:-$dst}" ||
			fail "after kill $kills: $dst differs from the source"
	done
}

random_target() { head -c $size /dev/urandom >"$1"; }
random_device() { head -c $size /dev/urandom | dd of="$1" bs=1M iflag=fullblock oflag=direct status=none; }

storm "$TMP/dst1" random_target --full
storm "$TMP/dst2" make_delta_target --compare
RATE=5M storm "$TMP/dst3" make_delta_target --extents "$TMP/extents"

head -c $size /dev/urandom >"$TMP/dst4"
dev=$(loop_attach "$TMP/dst4") || skip "no loop devices on this machine"
storm "$dev" random_device --full

# An NBD target: nbdkit's file plugin, each write held 2 ms by its delay
# filter so that every checkpoint's flush meets writes in flight; the server
# outlives the killed copies, and the file behind it is compared.
if command -v nbdkit >/dev/null; then
	random_target "$TMP/dst5"
	nbdkit -f --exit-with-parent -U "$TMP/nbd.sock" -P "$TMP/nbd.pid" --filter=delay \
		file "$TMP/dst5" delay-write=2ms &
	deadline=$((SECONDS + 30))
	until [ -S "$TMP/nbd.sock" ]; do
		[ $SECONDS -lt $deadline ] || fail "nbdkit did not start in 30 s"
		sleep 0.01
	done
	nbd_random() { random_target "$TMP/dst5"; }
	BEHIND="$TMP/dst5" storm "nbd+unix:///?socket=$TMP/nbd.sock" nbd_random --full
	kill "$(cat "$TMP/nbd.pid")"
fi

echo "$kills kills, every rerun started at once and every result identical"
