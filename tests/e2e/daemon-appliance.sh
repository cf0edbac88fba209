#!/bin/bash
# resyncd end to end as a storage appliance uses it: a Python client
# (http.client over the Unix socket) registers a VM whose target is an nbdkit
# export, adds a qcow2 recovery point exported by qemu-nbd -B with its dirty
# bitmap, fails over, fails back, polls the job to JobState 7, and the target
# ends byte-identical to the recovery point.  Then the job survives its
# daemon: a failback's worker is neither the client's nor the daemon's child,
# and a kill -9 of the daemon mid-job leaves it running to Completed.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
gen=0123456789abcdef0123456789abcdef gen2=00000000000000000000000000000002

nbd_dirty_exports

start_resyncd
TMP=$TMP GEN=$gen GEN2=$gen2 python3 - <<'PY'
import os
from resyncd_client import Client
tmp, gen, gen2 = os.environ["TMP"], os.environ["GEN"], os.environ["GEN2"]
c = Client()
hdrs, _ = c.expect(201, 0, "POST", "/v1/vms", {
    "Name": "app", "ReplicationMode": "replica",
    "Disks": [{"Name": "d0", "Target": f"nbd+unix:///?socket={tmp}/target.sock", "TargetGenerationId": gen}]})
assert hdrs["Location"] == "/v1/vms/app", hdrs
c.expect(201, 0, "POST", "/v1/vms/app/recovery-points", {
    "Id": "rp1", "Type": "ApplicationConsistent",
    "Disks": [{"Name": "d0", "Image": f"nbd+unix:///?socket={tmp}/rp.sock", "ImageGenerationId": gen2,
               "ChangeRecord": {"Kind": "nbd-dirty", "Name": "b0", "BaseGenerationId": gen, "Consistent": True}}]})
_, out = c.expect(200, 0, "GET", "/v1/vms/app/recovery-points")
assert [rp["Id"] for rp in out["RecoveryPoints"]] == ["rp1"], out
c.expect(200, 0, "POST", "/v1/vms/app/failover", {})
hdrs, out = c.expect(202, 4096, "POST", "/v1/vms/app/failback",
                     {"RecoveryPointIdentifier": "rp1", "ReplicationSettingData": {"change_source": "auto"}})
assert out["JobReference"] == hdrs["Location"] and out["JobReference"].startswith("/v1/jobs/"), (hdrs, out)
job = c.wait_job(out["JobReference"])
assert job["JobState"] == 7, job
assert job["Disks"][0]["ChangeSource"] == "nbd-dirty", job
assert job["BytesToCopy"] == 262144, job
_, out = c.expect(200, 0, "GET", "/v1/vms/app")
assert out["Vm"]["ReplicationState"] == 14, out
PY
same "$TMP/primary.img" "$TMP/expect.raw"
# The same job through curl and through resyncctl: one store, one record.
expect_api 200 0 GET /v1/jobs
job=$(grep -o '"InstanceID":"[^"]*"' "$TMP/out" | cut -d'"' -f4)
[ -n "$job" ] || fail "GET /v1/jobs lists no job: $(cat "$TMP/out")"
expect_rc 0 resyncctl --state-dir "$TMP/state" --json job show "$job"
[ "$(json_field "$TMP/out" JobState)" = 7 ] || fail "resyncctl sees another state: $(cat "$TMP/out")"
# Both front ends give the same JSON views (ctl/view.c, the records).
expect_rc 0 resyncctl --state-dir "$TMP/state" --json vm list
mv "$TMP/out" "$TMP/cli-vms.json"
expect_api 200 0 GET /v1/vms
python3 -c '
import json, sys
cli, api = (json.load(open(f)) for f in sys.argv[1:3])
assert cli["Vms"] == api["Vms"], (cli, api)' "$TMP/cli-vms.json" "$TMP/out"
expect_rc 0 resyncctl --state-dir "$TMP/state" --json job show "$job"
mv "$TMP/out" "$TMP/cli-job.json"
expect_api 200 0 GET "/v1/jobs/$job"
python3 -c '
import json, sys
cli, api = (json.load(open(f)) for f in sys.argv[1:3])
assert cli["Job"] == api["Job"], (cli, api)' "$TMP/cli-job.json" "$TMP/out"
api GET /metrics >/dev/null
grep -qx 'resync_jobs{state="Completed",job_state="7"} 1' "$TMP/out" || fail "metrics: $(cat "$TMP/out")"
grep -q '^resync_last_failback_duration_seconds{vm="app"} [0-9.]*$' "$TMP/out" || fail "no duration: $(cat "$TMP/out")"
grep -qx 'resync_job_bytes_written [1-9][0-9]*' "$TMP/out" || fail "no bytes written: $(cat "$TMP/out")"

# Kill -9 of the daemon mid-job: a slow full copy between files.
head -c 4M /dev/urandom >"$TMP/slow-target.img"
head -c 4M /dev/urandom >"$TMP/slow-rp.img"
expect_api 201 0 POST /v1/vms "{\"Name\":\"slow\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/slow-target.img\"}]}"
expect_api 201 0 POST /v1/vms/slow/recovery-points "{\"Id\":\"r\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/slow-rp.img\"}]}"
expect_api 200 0 POST /v1/vms/slow/failover '{}'
TMP=$TMP python3 - <<'PY' >"$TMP/slow.job"
import os, time
from resyncd_client import Client
c = Client()
_, out = c.expect(202, 4096, "POST", "/v1/vms/slow/failback",
                  {"ReplicationSettingData": '{"change_source":"full","rate_limit":1048576}'})
deadline = time.monotonic() + 60
while True:
    job = c.call("GET", out["JobReference"])[2]["Job"]
    if job["WorkerPid"] > 0 and job["JobState"] == 4:
        break
    assert time.monotonic() < deadline, job
    time.sleep(0.05)
# The worker is not in this client's process tree.
ppid = int([l for l in open(f"/proc/{job['WorkerPid']}/status") if l.startswith("PPid:")][0].split()[1])
assert ppid != os.getpid(), ppid
print(job["InstanceID"], job["WorkerPid"], ppid)
PY
read -r slow_job worker ppid <"$TMP/slow.job"
[ "$ppid" != "$RESYNCD_PID" ] || fail "the worker $worker is the daemon's child"
[ "$(ps -o sid= -p "$worker" | tr -d ' ')" != "$(ps -o sid= -p "$RESYNCD_PID" | tr -d ' ')" ] ||
	fail "the worker shares the daemon's session"
# Its signal state is that of a worker resyncctl starts.
head -c 4M /dev/urandom >"$TMP/cli-target.img"
ctl() { resyncctl --state-dir "$TMP/state" "$@"; }
expect_rc 0 ctl vm add cli --disk "d0=$TMP/cli-target.img"
expect_rc 0 ctl recovery-point add cli r --disk "d0=$TMP/slow-rp.img"
expect_rc 0 ctl failover cli
expect_rc 0 ctl --json failback cli --settings '{"change_source":"full","rate_limit":65536,"request_size":65536}'
cli_job=$(grep -o '"JobId":"[^"]*"' "$TMP/out" | cut -d'"' -f4)
for _ in $(seq 600); do
	expect_rc 0 ctl --json job show "$cli_job"
	cli_worker=$(json_field "$TMP/out" WorkerPid)
	[ "${cli_worker:-0}" -gt 0 ] && [ "$(json_field "$TMP/out" JobState)" = 4 ] && break
	sleep 0.05
done
[ "$(grep -E '^Sig(Blk|Ign)' "/proc/$worker/status")" = "$(grep -E '^Sig(Blk|Ign)' "/proc/$cli_worker/status")" ] ||
	fail "signal state of the daemon's worker $(grep -E '^Sig(Blk|Ign)' "/proc/$worker/status" | tr '\n' ' ')" \
		"differs from resyncctl's $(grep -E '^Sig(Blk|Ign)' "/proc/$cli_worker/status" | tr '\n' ' ')"
expect_rc 0 ctl job kill "$cli_job"
kill -9 "$RESYNCD_PID"
wait "$RESYNCD_PID" 2>/dev/null || true
rm -f "$TMP/resyncd.pid"
kill -0 "$worker" || fail "the worker died with the daemon"
expect_rc 0 resyncctl --state-dir "$TMP/state" job wait "$slow_job" --timeout 120
same "$TMP/slow-target.img" "$TMP/slow-rp.img"
# A new daemon finds the job where the worker left it.
start_resyncd
expect_api 200 0 GET "/v1/jobs/$slow_job"
[ "$(json_field "$TMP/out" JobState)" = 7 ] || fail "after restart: $(cat "$TMP/out")"
echo "daemon-appliance: target identical through the API; the job outlived a kill -9 of the daemon"
