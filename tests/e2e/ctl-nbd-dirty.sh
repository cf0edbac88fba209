#!/bin/bash
# resyncctl end to end with real NBD peers: the recovery point is a qcow2 with
# a persistent dirty bitmap exported by qemu-nbd -B, the target an nbdkit
# export of the old primary's disk.  `failback` (change source auto) trusts
# the bitmap because its base generation matches the target's, copies only
# the dirty extents, and the target ends byte-identical to the recovery point.
. "$(dirname "$0")/lib.bash"
# A worker still running when the script stops (a failed step) is killed.
kill_jobs() {
	[ -d "$TMP/state" ] || return 0
	resyncctl --state-dir "$TMP/state" --json job list 2>/dev/null | grep -o '"InstanceID":"[^"]*"' |
		cut -d'"' -f4 | while read -r j; do resyncctl --state-dir "$TMP/state" job kill "$j" >/dev/null 2>&1 || true; done
}
stop_servers() {
	kill_jobs
	local p
	for p in "$TMP"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
	cleanup
}
trap stop_servers EXIT
ctl() { resyncctl --state-dir "$TMP/state" "$@"; }
gen=0123456789abcdef0123456789abcdef gen2=00000000000000000000000000000002

nbd_dirty_exports

expect_rc 0 ctl vm add app --disk "d0=nbd+unix:///?socket=$TMP/target.sock,generation=$gen"
expect_rc 0 ctl recovery-point add app rp1 --type application-consistent \
	--disk "d0=nbd+unix:///?socket=$TMP/rp.sock,dirty-bitmap=b0,base=$gen,consistent,generation=$gen2"
expect_rc 0 ctl recovery-point add app old --time 1 \
	--disk "d0=nbd+unix:///?socket=$TMP/rp.sock,dirty-bitmap=nope,base=$gen,consistent"
expect_rc 0 ctl failover app
# Asking for a bitmap the export does not offer: 32770 (exit 3), nothing written.
expect_rc 3 ctl failback app --recovery-point old --settings '{"change_source":"nbd-dirty"}'
expect_rc 0 ctl --json job list
[ "$(grep -c InstanceID "$TMP/out" || true)" = 0 ] || fail "a rejected failback left a job"
expect_rc 0 ctl --json failback app --wait --timeout 60
cp "$TMP/out" "$TMP/failback.json"
grep -q '"ChangeSource":"nbd-dirty"' "$TMP/failback.json" || fail "auto did not pick nbd-dirty: $(cat "$TMP/failback.json")"
# Bitmap granules (64 KiB): one at 1M, two under the 128 KiB of zeroes, one around 7M.
[ "$(json_field "$TMP/failback.json" BytesToCopy)" = 262144 ] || fail "copied more than the dirty extents"
same "$TMP/primary.img" "$TMP/expect.raw"
expect_rc 0 ctl --json vm show app
[ "$(json_field "$TMP/out" ReplicationState)" = 14 ] || fail "VM not in 14 Failback complete"


# A trusted record whose bitmap the server does not offer: auto compares.
expect_rc 0 ctl recovery-point add app later \
	--disk "d0=nbd+unix:///?socket=$TMP/rp.sock,dirty-bitmap=nope,base=$gen2,consistent"
expect_rc 0 ctl failover app
expect_rc 0 ctl --json failback app --wait --timeout 60
grep -q '"ChangeSource":"compare"' "$TMP/out" || fail "auto did not fall back to compare"
grep -q 'offers no qemu:dirty-bitmap:nope' "$TMP/out" || fail "no reason recorded: $(cat "$TMP/out")"
same "$TMP/primary.img" "$TMP/expect.raw"
echo "ctl-nbd-dirty: target identical, only dirty extents copied"
