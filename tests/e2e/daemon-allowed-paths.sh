#!/bin/bash
# resyncd --allowed-path: a VM's Target and a recovery point's Image
# registered through the API, and the targets a failback through the API
# would write (also of a VM resyncctl registered), must lie under an
# allowed prefix -- as written, on a component boundary, without "..", and
# once symbolic links are resolved -- or the call gets 400 with 32773
# naming the path, and nothing changes.  A relative prefix is refused.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"

expect_rc 1 resyncd --socket "$TMP/x.sock" --state-dir "$TMP/state" --allowed-path disks
grep -q -- '--allowed-path "disks": wants an absolute path' "$TMP/err" || fail "relative: $(cat "$TMP/err")"

mkdir -p "$TMP/disks" "$TMP/disks2"
head -c 1M /dev/urandom >"$TMP/outside.img"
cp "$TMP/outside.img" "$TMP/outside.orig"
ln -s "$TMP/outside.img" "$TMP/disks/link.img"
start_resyncd --allowed-path "$TMP/disks/"

vm() { echo "{\"Name\":\"$1\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$2\"}]}"; }
for t in "$TMP/outside.img" "$TMP/disks/../outside.img" "$TMP/disks2/t.img" "$TMP/disks/link.img" disks/t.img; do
	expect_api 400 32773 POST /v1/vms "$(vm bad "$t")"
	grep -qF "Target \\\"$t\\\" is not under an --allowed-path" "$TMP/out" || fail "$t: $(cat "$TMP/out")"
	expect_api 404 32773 GET /v1/vms/bad
done
expect_api 201 0 POST /v1/vms "$(vm app "$TMP/disks/t.img")"
expect_api 400 32773 POST /v1/vms/app/recovery-points \
	"{\"Id\":\"r1\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/outside.img\"}]}"
grep -qF "Image \\\"$TMP/outside.img\\\" is not under" "$TMP/out" || fail "image: $(cat "$TMP/out")"
expect_api 404 32773 GET /v1/vms/app/recovery-points/r1
head -c 1M /dev/urandom >"$TMP/disks/r1.img"
expect_api 201 0 POST /v1/vms/app/recovery-points \
	"{\"Id\":\"r1\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/disks/r1.img\"}]}"

# A VM resyncctl registered with a target outside: the daemon will not
# fail it back, and the target keeps its bytes.
S=(resyncctl --state-dir "$TMP/state")
expect_rc 0 "${S[@]}" vm add cli --disk "d0=$TMP/outside.img"
expect_rc 0 "${S[@]}" recovery-point add cli r1 --disk "d0=$TMP/disks/r1.img"
expect_rc 0 "${S[@]}" failover cli
expect_rc 0 "${S[@]}" --json vm show cli
state_before=$(json_field "$TMP/out" ReplicationState)
expect_api 400 32773 POST /v1/vms/cli/failback '{"RecoveryPointIdentifier":"r1"}'
grep -qF "Target \\\"$TMP/outside.img\\\" is not under" "$TMP/out" || fail "failback: $(cat "$TMP/out")"
expect_rc 0 "${S[@]}" --json vm show cli
[ "$(json_field "$TMP/out" ReplicationState)" = "$state_before" ] || fail "the refused failback changed the VM"
expect_rc 0 "${S[@]}" --json job list
grep -q '"InstanceID"' "$TMP/out" && fail "a refused failback left a job: $(cat "$TMP/out")"
cmp "$TMP/outside.img" "$TMP/outside.orig" || fail "the target outside the allowed paths was written"
stop_resyncd_clean
echo "daemon-allowed-paths: disk paths outside --allowed-path are refused with 32773"
