#!/bin/bash
# Every InitiateFailback return value 32769..32779 through resyncd, each with
# the HTTP status doc/api.md gives it, and a refused call changes nothing: the
# VM record, the job list and the target are what they were.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
command -v nbdkit >/dev/null || skip "nbdkit not installed"
command -v setpriv >/dev/null || skip "setpriv not installed"
[ "$(id -u)" = 0 ] || skip "needs root (setpriv to another uid)"

# snap VM TARGET: what a refused call must leave alone.
snap() {
	api GET "/v1/vms/$1" >/dev/null
	cat "$TMP/out"
	api GET /v1/jobs >/dev/null
	cat "$TMP/out"
	[ -f "$2" ] && md5sum <"$2"
	return 0
}
# refused STATUS RV VM TARGET BODY [CALLER...]: a failback of VM is refused
# with STATUS and RV and changes nothing.
refused() {
	local status=$1 rv=$2 vm=$3 target=$4 body=$5 before got
	shift 5
	before=$(snap "$vm" "$target")
	# The caller may not write into $TMP: the body comes back on stdout.
	"$@" curl -s --unix-socket "$RESYNCD_SOCK" -X POST --data-binary "$body" \
		-w '\n%{http_code}' "http://resyncd/v1/vms/$vm/failback" >"$TMP/refused" || true
	got=$(tail -1 "$TMP/refused")
	[ "$got" = "$status" ] || fail "failback $vm $body: HTTP $got, want $status: $(cat "$TMP/refused")"
	[ "$(json_field "$TMP/refused" ReturnValue)" = "$rv" ] || fail "failback $vm $body: $(cat "$TMP/refused"), want $rv"
	grep -q '"ErrorDescription":"..*"' "$TMP/refused" || fail "no ErrorDescription: $(cat "$TMP/refused")"
	[ "$(snap "$vm" "$target")" = "$before" ] || fail "a refused failback ($rv) changed $vm, its jobs or its target"
}
# vm NAME TARGET IMAGE: registered, with recovery point rp1, failed over.
vm() {
	expect_api 201 0 POST /v1/vms "{\"Name\":\"$1\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$2\"}]}"
	expect_api 201 0 POST "/v1/vms/$1/recovery-points" "{\"Id\":\"rp1\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$3\"}]}"
	expect_api 200 0 POST "/v1/vms/$1/failover" '{}'
}

chmod 755 "$TMP"
head -c 4M /dev/urandom >"$TMP/t.img"
head -c 4M /dev/urandom >"$TMP/rp1.img"
start_resyncd --socket-mode 0666 --operator-group operator
vm vm "$TMP/t.img" "$TMP/rp1.img"

# 32769: a caller neither root nor in the operator group may read, not call.
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
refused 403 32769 vm "$TMP/t.img" '{}' "${nobody[@]}"
"${nobody[@]}" curl -s --unix-socket "$RESYNCD_SOCK" http://resyncd/v1/vms/vm >"$TMP/out" ||
	fail "nobody cannot read"
grep -q '"ReplicationState":5' "$TMP/out" || fail "nobody's GET: $(cat "$TMP/out")"
grep -q "call uid=65534 pid=[0-9]* POST /v1/vms/vm/failback -> 403 ReturnValue=32769" "$TMP/resyncd.log" ||
	fail "the refused call is not logged: $(cat "$TMP/resyncd.log")"
# A member of the operator group may call methods (here one refused for its body).
refused 400 32776 vm "$TMP/t.img" '{ torn' setpriv --reuid=65534 --regid=37 --clear-groups

# 32770: the target is a read-only NBD export.
nbdkit -P "$TMP/ro.pid" -U "$TMP/ro.sock" -r memory 4M
for _ in $(seq 200); do [ -S "$TMP/ro.sock" ] && break; sleep 0.05; done
vm ro "nbd+unix:///?socket=$TMP/ro.sock" "$TMP/rp1.img"
refused 422 32770 ro "" '{}'

# 32772: the target's server accepts and never answers.
python3 -c "
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[2], 'w').write('ok')
time.sleep(600)" "$TMP/silent.sock" "$TMP/silent.ready" &
echo $! >"$TMP/silent.pid"
for _ in $(seq 200); do [ -f "$TMP/silent.ready" ] && break; sleep 0.05; done
vm silent "nbd+unix:///?socket=$TMP/silent.sock" "$TMP/rp1.img"
refused 504 32772 silent "" '{"ReplicationSettingData":{"nbd_connect_timeout_ms":300}}'

# 32773: unknown recovery point, unknown setting, unknown key of the call.
refused 400 32773 vm "$TMP/t.img" '{"RecoveryPointIdentifier":"nope"}'
refused 400 32773 vm "$TMP/t.img" '{"ReplicationSettingData":{"verfy":true}}'
refused 400 32773 vm "$TMP/t.img" '{"RecoveryPoint":"rp1"}'
# 32775: a VM never failed over.
expect_api 201 0 POST /v1/vms "{\"Name\":\"fresh\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/fresh.img\"}]}"
refused 409 32775 fresh "" '{}'
# 32776: not JSON, JSON but not an object, a setting of the wrong type.
refused 400 32776 vm "$TMP/t.img" '{"RecoveryPointIdentifier":'
refused 400 32776 vm "$TMP/t.img" '[1,2]'
refused 400 32776 vm "$TMP/t.img" '{"ReplicationSettingData":{"rate_limit":"fast"}}'
refused 400 32776 vm "$TMP/t.img" '{"ReplicationSettingData":"{ not json"}'
refused 400 32776 vm "$TMP/t.img" '{"ReplicationSettingData":42}'
# 32777: nobody listens on the target's socket.
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$TMP/dead.sock"
vm dead "nbd+unix:///?socket=$TMP/dead.sock" "$TMP/rp1.img"
refused 503 32777 dead "" '{}'
# 32778: buffers beyond the memory budget.
refused 503 32778 vm "$TMP/t.img" '{"ReplicationSettingData":{"queue_depth":1024,"request_size":67108864}}'
# 32779: the recovery point's image is gone.
head -c 4M /dev/urandom >"$TMP/gone-t.img"
cp "$TMP/rp1.img" "$TMP/gone.img"
vm gone "$TMP/gone-t.img" "$TMP/gone.img"
rm "$TMP/gone.img"
refused 422 32779 gone "$TMP/gone-t.img" '{}'

# 32774: a job holds the VM; the VM, the recovery point and the job are in use.
expect_api 202 4096 POST /v1/vms/vm/failback '{"ReplicationSettingData":{"rate_limit":262144}}'
job=$(grep -o '"JobReference":"/v1/jobs/[^"]*"' "$TMP/out" | cut -d'"' -f4)
# The worker marks the disks inconsistent before it reports Running: the
# record to compare with is the one after that.
for _ in $(seq 600); do
	api GET "$job" >/dev/null
	[ "$(json_field "$TMP/out" JobState)" = 4 ] && break
	sleep 0.1
done
[ "$(json_field "$TMP/out" JobState)" = 4 ] || fail "job not running: $(cat "$TMP/out")"
before=$(api GET /v1/vms/vm >/dev/null; cat "$TMP/out")
api POST /v1/vms/vm/failback '{}' >"$TMP/status"
[ "$(cat "$TMP/status")" = 409 ] && [ "$(json_field "$TMP/out" ReturnValue)" = 32774 ] ||
	fail "second failback: $(cat "$TMP/status") $(cat "$TMP/out")"
expect_api 409 32774 DELETE /v1/vms/vm
expect_api 409 32774 DELETE /v1/vms/vm/recovery-points/rp1
expect_api 409 32774 DELETE "$job"
[ "$(api GET /v1/vms/vm >/dev/null; cat "$TMP/out")" = "$before" ] || fail "a refused call changed the VM"
api GET /v1/jobs >/dev/null
[ "$(grep -o InstanceID "$TMP/out" | wc -l)" = 1 ] || fail "job list: $(cat "$TMP/out")"
# RequestStateChange: 5 for a state it does not know, 4096 for terminate.
expect_api 400 5 POST "$job/RequestStateChange" '{"RequestedState":11}'
expect_api 404 5 POST /v1/jobs/00000000-0000-0000-0000-000000000000/RequestStateChange '{"RequestedState":4}'
expect_api 202 4096 POST "$job/RequestStateChange" '{"RequestedState":4}'
for _ in $(seq 600); do
	api GET "$job" >/dev/null
	[ "$(json_field "$TMP/out" JobState)" = 8 ] && break
	sleep 0.1
done
[ "$(json_field "$TMP/out" JobState)" = 8 ] || fail "terminate: $(cat "$TMP/out")"
expect_api 409 4097 POST "$job/RequestStateChange" '{"RequestedState":2}'
expect_api 200 0 DELETE "$job"
expect_api 404 32773 GET "$job"

# Method calls counted by ReturnValue in /metrics, as made above.
api GET /metrics >/dev/null
for want in 32769:1 32770:1 32772:1 32773:3 32774:4 32775:1 32776:6 32777:1 32778:1 32779:1; do
	grep -qx "resync_api_calls_total{return_value=\"${want%:*}\"} ${want#*:}" "$TMP/out" ||
		fail "metrics for ${want%:*}: $(grep "return_value=\"${want%:*}\"" "$TMP/out")"
done

# 32771: a job record torn on disk.
expect_api 202 4096 POST /v1/vms/vm/failback '{}'
job=$(grep -o '"JobReference":"/v1/jobs/[^"]*"' "$TMP/out" | cut -d'"' -f4)
expect_rc 0 resyncctl --state-dir "$TMP/state" job wait "${job#/v1/jobs/}" --timeout 120
echo '{ torn' >"$TMP/state/jobs/${job#/v1/jobs/}/job.json"
expect_api 500 32771 GET "$job"
echo "daemon-return-values: 32769..32779 through the API, nothing changed by a refusal"
