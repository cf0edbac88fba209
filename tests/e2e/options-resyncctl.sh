#!/bin/bash
# resyncctl's --version (its version and libresync's, from VERSION), and its
# option table (--long-options, --short-options) documented in doc/resyncctl.md and
# offered by the bash completion, as libnbd's test-long-options.sh checks.
. "$(dirname "$0")/lib.bash"
check_options resyncctl doc/resyncctl.md

# Each command's own options (its getopt table, shown by its --help) are
# documented and completed after the command; its subcommands complete too.
sed 's/\\//g' "$ROOT/doc/resyncctl.md" >"$TMP/doc"
for cmd in vm recovery-point failover failback job; do
	expect_rc 0 resyncctl "$cmd" --help
	opts=$(grep -oE -- '--[a-z][a-z-]*' "$TMP/out" | sort -u)
	[ -n "$opts" ] || fail "resyncctl $cmd --help names no option"
	for opt in $opts; do
		grep -Eq -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" "$TMP/doc" || fail "resyncctl $cmd $opt is not documented"
	done
	COMP_WORDS=(resyncctl "$cmd" x --) COMP_CWORD=3 COMPREPLY=()
	_resync_tools
	for opt in $opts; do
		printf '%s\n' "${COMPREPLY[@]}" | grep -x -- "$opt" >/dev/null || fail "resyncctl $cmd: $opt is not completed: ${COMPREPLY[*]}"
	done
done
COMP_WORDS=(resyncctl job "") COMP_CWORD=2 COMPREPLY=()
_resync_tools
[ "$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')" = "kill list remove request-state-change resume show suspend terminate wait " ] ||
	fail "resyncctl job subcommands: ${COMPREPLY[*]}"
echo "resyncctl's options are documented and completed"
