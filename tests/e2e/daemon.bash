# Sourced by the tests/e2e/daemon-*.sh scripts after lib.bash: starts resyncd
# on a Unix socket in $TMP over the store $TMP/state, and stops it (and
# any job worker it started) when the script ends.
RESYNCD_SOCK=$TMP/run/resyncd.sock
PYTHONPATH=$ROOT/tests/e2e${PYTHONPATH:+:$PYTHONPATH}
export PYTHONPATH RESYNCD_SOCK
command -v curl >/dev/null || skip "curl not installed"
command -v python3 >/dev/null || skip "python3 not installed"

# start_resyncd [OPTION]...: waits until the socket answers.
start_resyncd() {
	resyncd --socket "$RESYNCD_SOCK" --state-dir "$TMP/state" "$@" 2>>"$TMP/resyncd.log" &
	RESYNCD_PID=$!
	echo "$RESYNCD_PID" >"$TMP/resyncd.pid"
	local i
	for i in $(seq 600); do
		curl -s --unix-socket "$RESYNCD_SOCK" -o /dev/null http://resyncd/v1/vms && return 0
		kill -0 "$RESYNCD_PID" 2>/dev/null || fail "resyncd exited: $(cat "$TMP/resyncd.log")"
		sleep 0.05
	done
	fail "resyncd did not answer on $RESYNCD_SOCK in 30 s"
}
stop_resyncd() {
	[ -f "$TMP/resyncd.pid" ] || return 0
	kill "$(cat "$TMP/resyncd.pid")" 2>/dev/null || true
	wait "$(cat "$TMP/resyncd.pid")" 2>/dev/null || true
	rm -f "$TMP/resyncd.pid"
}
# stop_resyncd_clean: SIGTERM, and the daemon must exit 0 (under
# SANITIZE=1 a leak or a sanitizer report makes it fail).
stop_resyncd_clean() {
	local rc=0 i
	kill "$RESYNCD_PID"
	for i in $(seq 1200); do
		kill -0 "$RESYNCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$RESYNCD_PID" 2>/dev/null && fail "resyncd still running 60 s after SIGTERM"
	wait "$RESYNCD_PID" || rc=$?
	rm -f "$TMP/resyncd.pid"
	[ "$rc" = 0 ] || fail "resyncd exited $rc on SIGTERM: $(tail -20 "$TMP/resyncd.log")"
	[ ! -e "$RESYNCD_SOCK" ] || fail "resyncd left its socket behind"
}
# Kills the workers of jobs still running and every server a script
# started (pid files $TMP/*.pid), then cleans up.
daemon_cleanup() {
	local j p
	if [ -d "$TMP/state" ]; then
		for j in "$TMP"/state/jobs/*/; do
			[ -d "$j" ] && resyncctl --state-dir "$TMP/state" job kill "$(basename "$j")" >/dev/null 2>&1 || true
		done
	fi
	stop_resyncd
	for p in "$TMP"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
	cleanup
}
trap daemon_cleanup EXIT
# api METHOD PATH [BODY]: curl over the socket; the body in $TMP/out, the
# HTTP status printed.
api() {
	local data=()
	[ $# -ge 3 ] && data=(--data-binary "$3" -H 'Content-Type: application/json')
	curl -s --unix-socket "$RESYNCD_SOCK" -X "$1" "${data[@]}" -o "$TMP/out" -w '%{http_code}' "http://resyncd$2"
}
# expect_api STATUS RV METHOD PATH [BODY]
expect_api() {
	local want=$1 rv=$2 got; shift 2
	got=$(api "$@")
	[ "$got" = "$want" ] || fail "$1 $2: HTTP $got, want $want: $(cat "$TMP/out")"
	[ "$(json_field "$TMP/out" ReturnValue)" = "$rv" ] || fail "$1 $2: ReturnValue $(cat "$TMP/out"), want $rv"
}
