# Sourced by the end-to-end scripts: a scratch directory removed on exit,
# the built binaries on PATH, and small assertions that say what failed.
set -euo pipefail
B=${B:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$ROOT/$B/bin:$PATH"
TMP=$(mktemp -d /var/tmp/resync-e2e.XXXXXX)
cleanup() {
	local l
	# loop_attach runs in command substitutions: its devices are listed in a file.
	[ -f "$TMP/.loops" ] && while read -r l; do losetup -d "$l" 2>/dev/null || true; done <"$TMP/.loops"
	[ -n "${KEEP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ: $(cmp "$1" "$2" 2>&1 | head -1)"; }
expect_rc() { # expect_rc WANT CMD...: runs CMD, checks its exit status
	local want=$1; shift
	set +e; "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want; stderr: $(cat "$TMP/err")"
}
# A JSON number field from the last line holding it: json_field FILE NAME
json_field() { { grep -o "\"$2\":[0-9]*" "$1" || true; } | tail -1 | cut -d: -f2; }
loop_attach() { # loop_attach FILE -> prints the device
	local dev i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		dev=$(losetup --find --show "$1" 2>/dev/null) && { echo "$dev" >>"$TMP/.loops"; echo "$dev"; return 0; }
		sleep 0.1
	done
	return 1
}
# rounds CHECK STRESS: how many rounds a storm runs; `make stress` sets
# RESYNC_STRESS=1 for the full count, `make check` runs the shortened one.
rounds() { if [ "${RESYNC_STRESS:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# check_options TOOL DOC: TOOL --version names TOOL and libresync at VERSION;
# every option TOOL --long-options/--short-options lists is documented in its
# man page source DOC, and the bash completion offers it.
check_options() {
	local tool=$1 doc=$ROOT/$2 v opt
	v=$(cat "$ROOT/VERSION")
	expect_rc 0 "$tool" --version
	[ "$(cat "$TMP/out")" = "$tool $v
libresync $v" ] || fail "$tool --version: $(cat "$TMP/out")"
	expect_rc 0 "$tool" --long-options
	mv "$TMP/out" "$TMP/long"
	grep -qx -- --help "$TMP/long" && grep -qx -- --version "$TMP/long" || fail "$tool --long-options: $(cat "$TMP/long")"
	expect_rc 0 "$tool" --short-options
	mv "$TMP/out" "$TMP/short"
	grep -qx -- -h "$TMP/short" || fail "$tool --short-options: $(cat "$TMP/short")"
	grep -vEx -- '--[a-z][a-z0-9-]*|-[a-zA-Z0-9]' "$TMP/long" "$TMP/short" && fail "$tool lists a malformed option"
	sed 's/\\//g' "$doc" >"$TMP/doc"
	while read -r opt; do
		grep -Eq -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" "$TMP/doc" || fail "$tool $opt is not documented in $2"
	done < <(cat "$TMP/long" "$TMP/short")
	# shellcheck source=/dev/null
	. "$ROOT/tools/bash-completion/resync"
	COMP_WORDS=("$tool" --) COMP_CWORD=1 COMPREPLY=()
	_resync_tools
	[ "$(printf '%s\n' "${COMPREPLY[@]}" | sort)" = "$(sort "$TMP/long")" ] ||
		fail "completion of $tool --: ${COMPREPLY[*]}"
}
# qemu_dirty_export SIZE WRITE...: the old primary's disk $TMP/primary.img
# (SIZE random bytes) and a recovery point $TMP/rp.qcow2 made from it whose
# persistent dirty bitmap b0 records the qemu-io WRITEs since, exported
# read-only by qemu-nbd -B b0 on $TMP/rp.sock; its contents are
# $TMP/expect.raw.  The server's pid is in $TMP/qemu.pid (the caller's EXIT
# trap kills it).
qemu_dirty_export() {
	local size=$1 t w writes=()
	shift
	for t in qemu-img qemu-io qemu-nbd; do
		command -v $t >/dev/null || skip "$t not installed"
	done
	for w in "$@"; do writes+=(-c "$w"); done
	head -c "$size" /dev/urandom >"$TMP/primary.img"
	qemu-img convert -q -f raw -O qcow2 "$TMP/primary.img" "$TMP/rp.qcow2"
	qemu-img bitmap --add "$TMP/rp.qcow2" b0
	qemu-io -f qcow2 "${writes[@]}" "$TMP/rp.qcow2" >/dev/null
	qemu-img convert -q -f qcow2 -O raw "$TMP/rp.qcow2" "$TMP/expect.raw"
	qemu-nbd --fork --pid-file="$TMP/qemu.pid" -r -f qcow2 -B b0 -k "$TMP/rp.sock" -t "$TMP/rp.qcow2"
}
# nbd_dirty_exports: qemu_dirty_export of 8 MiB and three writes, and the
# old primary's disk exported by nbdkit on $TMP/target.sock (pid in
# $TMP/nbdkit.pid).
nbd_dirty_exports() {
	local i
	command -v nbdkit >/dev/null || skip "nbdkit not installed"
	qemu_dirty_export 8M "write -P 0xaa 1M 64k" "write -z 5M 128k" "write -P 0xbb 7M 4k"
	nbdkit -P "$TMP/nbdkit.pid" -U "$TMP/target.sock" file "$TMP/primary.img"
	for i in $(seq 200); do
		[ -S "$TMP/rp.sock" ] && [ -S "$TMP/target.sock" ] && return 0
		sleep 0.05
	done
	fail "qemu-nbd or nbdkit did not listen in 10 s"
}
