#!/bin/bash
# resync-bitmap and resync read numbers the way the engine does
# (common/parse_size.h): leading zeros are decimal, 0x is hex, K/M/G/T are
# powers of 1024, overflow and junk are errors naming the line; and a bitmap
# larger than the engine can hold is refused with a message, not a crash.
. "$(dirname "$0")/lib.bash"

# 0655360 used to be read as octal (220912).
printf '# leading zeros\n0655360 65536\n0x10000 4K\n' >"$TMP/ext"
expect_rc 0 resync-bitmap create --size 1M --granularity 4K --extents "$TMP/ext" "$TMP/bm"
expect_rc 0 resync-bitmap dump "$TMP/bm"
grep -qx "655360 65536" "$TMP/out" || fail "0655360 not read as decimal: $(cat "$TMP/out")"
grep -qx "65536 4096" "$TMP/out" || fail "0x10000 4K not read: $(cat "$TMP/out")"

printf '0 4096\n4096 4O96\n' >"$TMP/bad"
expect_rc 1 resync-bitmap create --size 1M --granularity 4K --extents "$TMP/bad" "$TMP/bm2"
grep -q "bad line 2: the length is not a size" "$TMP/err" || fail "bad token: $(cat "$TMP/err")"
[ ! -e "$TMP/bm2" ] || fail "a bitmap was written from a bad extent list"
printf '18446744073709551616 1\n' >"$TMP/big"
expect_rc 1 resync-bitmap create --size 1M --granularity 4K --extents "$TMP/big" "$TMP/bm2"
grep -q "big line 1: the offset is larger than 2^64 - 1" "$TMP/err" || fail "overflow: $(cat "$TMP/err")"
expect_rc 2 resync-bitmap create --size 18446744073709551616 --granularity 4K "$TMP/bm2"
grep -q "bad --size 18446744073709551616: larger than 2^64 - 1" "$TMP/err" || fail "$(cat "$TMP/err")"
expect_rc 2 resync-bitmap create --size 010x --granularity 4K "$TMP/bm2"

# 2^64 - 1 bytes at 512 overflowed a heap buffer (segfault, or ASan).
expect_rc 2 resync-bitmap create --size 18446744073709551615 --granularity 512 "$TMP/huge"
grep -q "is more than a bitmap holds (2^35 blocks): use a coarser granularity" "$TMP/err" ||
	fail "huge bitmap: $(cat "$TMP/err")"
[ ! -e "$TMP/huge" ] || fail "a huge bitmap was written"

# resync reads the same numbers in options and extent lists.
head -c 1048576 /dev/urandom >"$TMP/src"
head -c 1048576 /dev/urandom >"$TMP/dst"
cp "$TMP/dst" "$TMP/want"
dd if="$TMP/src" of="$TMP/want" bs=65536 skip=10 seek=10 count=1 conv=notrunc status=none
printf '0655360 64K\n' >"$TMP/ext2"
expect_rc 0 resync copy "$TMP/src" "$TMP/dst" --extents "$TMP/ext2" --block-size 0x1000 --request-size 01M
same "$TMP/want" "$TMP/dst"
expect_rc 2 resync copy "$TMP/src" "$TMP/dst" --rate 99999999999999999999
grep -q -- "--rate 99999999999999999999 is larger than 2^64 - 1" "$TMP/err" || fail "$(cat "$TMP/err")"
echo "one number grammar everywhere"
