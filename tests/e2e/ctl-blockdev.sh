#!/bin/bash
# resyncctl onto a block device (a loop device): a target that is mounted is
# "in use" (32774, exit 7) and untouched; once unmounted the same failback
# runs and the device ends byte-identical to the recovery point.
. "$(dirname "$0")/lib.bash"
# A worker still running when the script stops (a failed step) is killed.
kill_jobs() {
	[ -d "$TMP/state" ] || return 0
	resyncctl --state-dir "$TMP/state" --json job list 2>/dev/null | grep -o '"InstanceID":"[^"]*"' |
		cut -d'"' -f4 | while read -r j; do resyncctl --state-dir "$TMP/state" job kill "$j" >/dev/null 2>&1 || true; done
}
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 not installed"
ctl() { resyncctl --state-dir "$TMP/state" "$@"; }
unmount_all() {
	kill_jobs
	mountpoint -q "$TMP/mnt" && umount "$TMP/mnt"
	cleanup
}
trap unmount_all EXIT

truncate -s 16M "$TMP/primary.img"
dev=$(loop_attach "$TMP/primary.img") || skip "no loop devices here"
head -c 16M /dev/urandom >"$TMP/rp.img"
# No lazy init: a mounted ext4 otherwise writes in the background while the
# refused failback waits for the device (up to 5 s), and the device changes.
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$dev"
mkdir "$TMP/mnt"
mount "$dev" "$TMP/mnt" || skip "cannot mount here"

expect_rc 0 ctl vm add db --disk "d0=$dev"
expect_rc 0 ctl recovery-point add db rp1 --disk "d0=$TMP/rp.img"
expect_rc 0 ctl failover db
before=$(md5sum <"$dev")
expect_rc 7 ctl failback db
grep -q "in use" "$TMP/err" || fail "no reason given: $(cat "$TMP/err")"
[ "$(md5sum <"$dev")" = "$before" ] || fail "a refused failback changed the device"
expect_rc 0 ctl --json vm show db
[ "$(json_field "$TMP/out" ReplicationState)" = 5 ] || fail "refused failback changed the VM state"

umount "$TMP/mnt"
expect_rc 0 ctl failback db --wait --timeout 60
same "$dev" "$TMP/rp.img"
expect_rc 0 ctl --json vm show db
[ "$(json_field "$TMP/out" ReplicationState)" = 14 ] || fail "VM not in 14 Failback complete"
echo "ctl-blockdev: mounted target refused, unmounted target identical"
