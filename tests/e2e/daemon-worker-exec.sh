#!/bin/bash
# A failback's worker is a fresh process image, not a bare fork of resyncd's
# threads: its /proc/PID/exe is the program that started it and its command
# line `PROGRAM --worker STORE JOB` (for resyncd and resyncctl alike).  Then
# a storm: rounds of 8 VMs failed back at once while unprivileged readers
# keep the daemon's threads in NSS (authorizing a peer that is neither root
# nor in the operator group looks up its passwd entry and group list) and in
# malloc; every job reaches JobState 7 with its target byte-identical to its
# recovery point, none hangs.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
command -v setpriv >/dev/null || skip "setpriv not installed"
[ "$(id -u)" = 0 ] || skip "needs root (setpriv to another uid)"
getent group operator >/dev/null || skip "no group \"operator\""

chmod 755 "$TMP"
start_resyncd --socket-mode 0666 --operator-group operator --threads 8
# vm NAME SIZE: registered with recovery point r (another image), failed over.
vm() {
	head -c "$2" /dev/urandom >"$TMP/$1.img"
	head -c "$2" /dev/urandom >"$TMP/$1.rp"
	expect_api 201 0 POST /v1/vms "{\"Name\":\"$1\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/$1.img\"}]}"
	expect_api 201 0 POST "/v1/vms/$1/recovery-points" "{\"Id\":\"r\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/$1.rp\"}]}"
	expect_api 200 0 POST "/v1/vms/$1/failover" '{}'
}
# in_state JOB STATE: waits (up to 300 s) until the job is in JobState STATE.
in_state() {
	local i
	for i in $(seq 3000); do
		expect_api 200 0 GET "/v1/jobs/$1"
		[ "$(json_field "$TMP/out" JobState)" = "$2" ] && return 0
		sleep 0.1
	done
	fail "job $1 not in JobState $2 after 300 s: $(cat "$TMP/out")"
}
# running JOB: waits until the job's worker runs; prints its pid.
running() {
	in_state "$1" 4
	json_field "$TMP/out" WorkerPid
}
# exec_image PID PROGRAM JOB: the worker PID is PROGRAM exec'd as a worker.
exec_image() {
	local want
	want=$(command -v "$2")
	[ "/proc/$1/exe" -ef "$want" ] || fail "worker $1 runs $(readlink "/proc/$1/exe"), not $want"
	tr '\0' '\n' <"/proc/$1/cmdline" >"$TMP/cmdline"
	[ "$(sed 1d "$TMP/cmdline")" = "--worker
$TMP/state
$3" ] || fail "worker $1 of $2 has the command line \"$(tr '\n' ' ' <"$TMP/cmdline")\", not \"$2 --worker $TMP/state $3\""
}
slow='{"ReplicationSettingData":{"change_source":"full","rate_limit":16384,"request_size":65536}}'

vm api 4M
expect_api 202 4096 POST /v1/vms/api/failback "$slow"
api_job=$(grep -o '"JobId":"[^"]*"' "$TMP/out" | cut -d'"' -f4)
exec_image "$(running "$api_job")" resyncd "$api_job"
vm cli 4M
expect_rc 0 resyncctl --state-dir "$TMP/state" --json failback cli \
	--settings '{"change_source":"full","rate_limit":16384,"request_size":65536}'
cli_job=$(grep -o '"JobId":"[^"]*"' "$TMP/out" | cut -d'"' -f4)
exec_image "$(running "$cli_job")" resyncctl "$cli_job"
for j in "$api_job" "$cli_job"; do
	expect_api 202 4096 POST "/v1/jobs/$j/RequestStateChange" '{"RequestedState":4}'
done

# Readers as nobody (a reader role: resyncd asks NSS about it on every
# connection), 20 requests in flight, until the storm is over.
for i in $(seq 200); do
	printf 'url = "http://resyncd/v1/%s"\noutput = "/dev/null"\n' "$([ $((i % 2)) = 0 ] && echo jobs || echo vms)"
done >"$TMP/readers.cfg"
touch "$TMP/readers.out"
(
	for _ in $(seq 100000); do
		[ -e "$TMP/storm.done" ] && break
		setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -Z --parallel-max 20 --max-time 300 \
			--unix-socket "$RESYNCD_SOCK" -w '%{http_code}\n' -K "$TMP/readers.cfg" || true
	done >>"$TMP/readers.out" 2>>"$TMP/readers.err"
) &
echo $! >"$TMP/readers.pid"

rounds=$(rounds 3 12)
for r in $(seq "$rounds"); do
	for v in $(seq 8); do vm "r${r}v$v" 2M; done
	TMP=$TMP ROUND=$r python3 - <<'PY'
import os, threading
from resyncd_client import Client
c, r = Client(), os.environ["ROUND"]
vms = [f"r{r}v{v}" for v in range(1, 9)]
out, barrier = {}, threading.Barrier(len(vms))
def run(vm):
    barrier.wait()
    _, body = c.expect(202, 4096, "POST", f"/v1/vms/{vm}/failback", {"ReplicationSettingData": {"change_source": "full"}})
    # Generous for a machine 3x slower: a hung worker ends the wait.
    out[vm] = c.wait_job(body["JobReference"], timeout=300)
ts = [threading.Thread(target=run, args=(vm,)) for vm in vms]
for t in ts: t.start()
for t in ts: t.join()
bad = {vm: (j["JobState"], j.get("ErrorDescription")) for vm, j in out.items() if j["JobState"] != 7}
assert len(out) == len(vms) and not bad, (sorted(out), bad)
PY
	for v in $(seq 8); do same "$TMP/r${r}v$v.img" "$TMP/r${r}v$v.rp"; done
done
touch "$TMP/storm.done"
wait "$(cat "$TMP/readers.pid")"
rm "$TMP/readers.pid"
grep -qx 200 "$TMP/readers.out" || fail "no reader was answered"
! grep -vx 200 "$TMP/readers.out" || fail "a reader was not answered 200"
for j in "$api_job" "$cli_job"; do in_state "$j" 8; done
stop_resyncd_clean
echo "daemon-worker-exec: workers exec'd; $((rounds * 8)) failbacks completed under $(wc -l <"$TMP/readers.out") NSS-authorized reads"
