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
