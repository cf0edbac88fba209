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
