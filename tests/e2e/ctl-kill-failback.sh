#!/bin/bash
# `resyncctl job kill` of a failback copying onto a block device (a loop
# device), then at once `failback` again: the new job waits for the killed
# worker's claim on the device to come free (its io_uring draining) instead
# of answering 32774 "in use", resumes, and the device ends byte-identical.
# The kill comes once the job reports bytes copied, never after a sleep.
. "$(dirname "$0")/lib.bash"
ctl() { resyncctl --state-dir "$TMP/state" "$@"; }
kill_jobs() {
	[ -d "$TMP/state" ] || return 0
	ctl --json job list 2>/dev/null | grep -o '"InstanceID":"[^"]*"' | cut -d'"' -f4 |
		while read -r j; do ctl job kill "$j" >/dev/null 2>&1 || true; done
}
trap 'kill_jobs; cleanup' EXIT

size=$((64 * 1024 * 1024))
truncate -s $size "$TMP/primary.img"
dev=$(loop_attach "$TMP/primary.img") || skip "no loop devices here"
head -c $size /dev/urandom >"$TMP/rp.img"
expect_rc 0 ctl vm add db --disk "d0=$dev"
expect_rc 0 ctl recovery-point add db rp1 --disk "d0=$TMP/rp.img"
expect_rc 0 ctl failover db

for round in $(seq "$(rounds 6 20)"); do
	expect_rc 0 ctl --json failback db --settings '{"change_source": "full", "rate_limit": 16777216}'
	job=$({ grep -o '"JobId":"[^"]*"' "$TMP/out" || true; } | head -1 | cut -d'"' -f4)
	[ -n "$job" ] || fail "no job id from failback: $(cat "$TMP/out")"
	# Killed once it has copied something, with requests in flight.
	copied=0
	for ((i = 0; i < 6000 && copied < 4194304; i++)); do
		ctl --json job show "$job" >"$TMP/show" 2>&1 || true
		copied=$(json_field "$TMP/show" BytesCopied)
		copied=${copied:-0}
		[ "$(json_field "$TMP/show" JobState)" = 4 ] || [ "$copied" -lt 4194304 ] || break
		sleep 0.01
	done
	[ "$copied" -ge 4194304 ] || fail "round $round: the job copied nothing in 60 s: $(cat "$TMP/show")"
	expect_rc 0 ctl job kill "$job"
	ctl failback db --wait --timeout 120 >"$TMP/out" 2>"$TMP/err" ||
		fail "round $round: failback right after the kill: $(cat "$TMP/err" "$TMP/out")"
	cmp -s "$dev" "$TMP/rp.img" || fail "round $round: the device differs from the recovery point"
	expect_rc 0 ctl --json vm show db
	[ "$(json_field "$TMP/out" ReplicationState)" = 14 ] || fail "round $round: VM not in 14"
	expect_rc 0 ctl failover db
	head -c 8M /dev/urandom | dd of="$dev" bs=1M iflag=fullblock oflag=direct status=none
done
echo "ctl-kill-failback: every failback right after a kill started, the device identical"
