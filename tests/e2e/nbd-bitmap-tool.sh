#!/bin/bash
# resync-bitmap against a real qemu dirty bitmap: nbd-extents prints exactly
# the dirty granules, from-nbd captures them into a change-bitmap file that a
# later `resync copy --bitmap` uses with the export gone, and the CLI's
# --nbd-dirty gives the same target.  Usage errors exit 2, runtime errors 1.
. "$(dirname "$0")/lib.bash"
stop_server() {
	[ -f "$TMP/qemu.pid" ] && kill "$(cat "$TMP/qemu.pid")" 2>/dev/null || true
	cleanup
}
trap stop_server EXIT

qemu_dirty_export 4M "write -P 0xaa 64k 4k" "write -P 0xbb 1M 192k" "write -z 3M 64k"
cp "$TMP/primary.img" "$TMP/primary2.img"
URI="nbd+unix:///?socket=$TMP/rp.sock"

expect_rc 0 resync-bitmap nbd-extents "$URI" b0
printf '65536 65536\n1048576 196608\n3145728 65536\n' >"$TMP/want"
cmp -s "$TMP/out" "$TMP/want" || fail "nbd-extents printed: $(cat "$TMP/out")"

expect_rc 0 resync-bitmap from-nbd "$URI" b0 "$TMP/cap.bm" --granularity 64K \
	--generation 0123456789abcdef0123456789abcdef --consistent
expect_rc 0 resync-bitmap dump "$TMP/cap.bm"
cat >"$TMP/want" <<'OUT'
device_size: 4194304
granularity: 65536
flags: consistent
generation: 0123456789abcdef0123456789abcdef
disk_id: 00000000000000000000000000000000
dirty_bytes: 327680
extents:
65536 65536
1048576 196608
3145728 65536
OUT
cmp -s "$TMP/out" "$TMP/want" || fail "dump printed: $(cat "$TMP/out")"
# A coarser capture rounds each dirty range out to whole granules.
expect_rc 0 resync-bitmap from-nbd "$URI" b0 "$TMP/coarse.bm" --granularity 1M
expect_rc 0 resync-bitmap dump --json "$TMP/coarse.bm"
grep -q '"dirty_bytes":3145728' "$TMP/out" || fail "coarse capture: $(cat "$TMP/out")"

# The CLI over the export, and the captured bitmap over a raw copy later.
expect_rc 0 resync copy "$URI" "$TMP/primary.img" --nbd-dirty b0 --stats
same "$TMP/primary.img" "$TMP/expect.raw"
[ "$(json_field "$TMP/out" bytes_planned)" = 327680 ] || fail "planned: $(cat "$TMP/out")"

# Errors: an absent bitmap names what is offered; usage mistakes exit 2.
expect_rc 1 resync-bitmap nbd-extents "$URI" nope
grep -q "does not offer qemu:dirty-bitmap:nope (it offers: base:allocation, qemu:dirty-bitmap:b0)" \
	"$TMP/err" || fail "absent bitmap: $(cat "$TMP/err")"
expect_rc 2 resync-bitmap nbd-extents "$URI"
expect_rc 2 resync-bitmap from-nbd "$URI" b0 "$TMP/x.bm" --granularity 1000
expect_rc 2 resync-bitmap create --size 1M "$TMP/x.bm"
expect_rc 2 resync-bitmap dump "$TMP/cap.bm" --size 1M
expect_rc 2 resync-bitmap frobnicate

kill "$(cat "$TMP/qemu.pid")"
rm -f "$TMP/qemu.pid"
for _ in $(seq 100); do [ -S "$TMP/rp.sock" ] || break; sleep 0.05; done
expect_rc 1 resync-bitmap nbd-extents "$URI" b0
grep -q "connect: " "$TMP/err" || fail "no server: $(cat "$TMP/err")"
[ -f "$TMP/x.bm" ] && fail "a failed command left an output file"

expect_rc 0 resync copy "$TMP/expect.raw" "$TMP/primary2.img" --bitmap "$TMP/cap.bm" --stats
same "$TMP/primary2.img" "$TMP/expect.raw"
[ "$(json_field "$TMP/out" bytes_written)" -le 327680 ] || fail "bitmap copy wrote too much: $(cat "$TMP/out")"

# create from an extent list gives the same bitmap bits as the capture.
printf '# what the VM wrote\n65536 4096\n1M 192K\n\n3145728 65536 # zeroed\n' >"$TMP/extents"
expect_rc 0 resync-bitmap create --size 4M --granularity 64K --extents "$TMP/extents" \
	--generation 0123456789abcdef0123456789abcdef --consistent "$TMP/made.bm"
resync-bitmap dump "$TMP/made.bm" >"$TMP/made.txt"
resync-bitmap dump "$TMP/cap.bm" >"$TMP/cap.txt"
same "$TMP/made.txt" "$TMP/cap.txt"
printf '0 5M\n' >"$TMP/bad"
expect_rc 1 resync-bitmap create --size 4M --granularity 64K --extents "$TMP/bad" "$TMP/bad.bm"
grep -q "bad line 1: extent 0+5242880: past the end of the disk" "$TMP/err" || fail "$(cat "$TMP/err")"
echo ok
