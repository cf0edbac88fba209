#!/bin/bash
# doc/openapi.yaml describes what resyncd answers: every operation of the
# file is called on a running daemon, successes and refusals, and every
# response is validated against the schema of its path, method and status
# (tests/e2e/openapi_check.py); an undocumented status fails.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
python3 -c 'import jsonschema, yaml, referencing' 2>/dev/null || skip "python3-jsonschema or python3-yaml missing"

head -c 1M /dev/urandom >"$TMP/t.img"
head -c 1M /dev/urandom >"$TMP/rp.img"
start_resyncd --body-limit 4096
TMP=$TMP SPEC=$ROOT/doc/openapi.yaml python3 - <<'PY'
import os
from openapi_check import CheckedClient
tmp = os.environ["TMP"]
c = CheckedClient(os.environ["SPEC"])
def ok(status, method, url, body=None):
    got, hdrs, out = c.call(method, url, body)
    assert got == status, (method, url, got, out)
    return hdrs, out

ok(200, "GET", "/v1/vms")
ok(201, "POST", "/v1/vms", {"Name": "app", "ReplicationMode": 2,
                            "Disks": [{"Name": "d0", "Target": f"{tmp}/t.img"}]})
ok(409, "POST", "/v1/vms", {"Name": "app", "Disks": [{"Name": "d0", "Target": f"{tmp}/t.img"}]})
ok(400, "POST", "/v1/vms", "{ torn")
ok(413, "POST", "/v1/vms", " " * 5000)
ok(200, "GET", "/v1/vms")
ok(200, "GET", "/v1/vms/app")
ok(404, "GET", "/v1/vms/nope")
ok(201, "POST", "/v1/vms/app/recovery-points", {
    "Id": "r1", "CreationTime": "2026-11-25T06:00:00Z", "Type": "Standard",
    "Disks": [{"Name": "d0", "Image": f"{tmp}/rp.img", "ImageGenerationId": "0123456789abcdef0123456789abcdef",
               "ChangeRecord": {"Kind": "extents", "Path": f"{tmp}/none", "BaseGenerationId": "00000000000000000000000000000001"}}]})
ok(201, "POST", "/v1/vms/app/recovery-points", {"Id": "r2", "CreationTime": 1,
                                                "Disks": [{"Name": "d0", "Image": f"{tmp}/rp.img"}]})
ok(400, "POST", "/v1/vms/app/recovery-points", {"Id": "r3", "Disks": [{"Name": "d9", "Image": "x"}]})
ok(200, "GET", "/v1/vms/app/recovery-points")
ok(200, "GET", "/v1/vms/app/recovery-points/r1")
ok(404, "GET", "/v1/vms/app/recovery-points/r9")
ok(409, "POST", "/v1/vms/app/failback", {})
ok(200, "POST", "/v1/vms/app/failover", {"RecoveryPointIdentifier": "r2"})
ok(400, "POST", "/v1/vms/app/failback", {"ReplicationSettingData": {"verfy": True}})
hdrs, out = ok(202, "POST", "/v1/vms/app/failback",
               {"RecoveryPointIdentifier": "r2", "ReplicationSettingData": {"change_source": "full"}})
job = c.wait_job(out["JobReference"])
assert job["JobState"] == 7, job
ok(409, "POST", f"{out['JobReference']}/RequestStateChange", {"RequestedState": 3})
ok(400, "POST", f"{out['JobReference']}/RequestStateChange", {"RequestedState": 1})
assert ok(400, "POST", f"{out['JobReference']}/RequestStateChange", {"RequestedState": "3"})[1]["ReturnValue"] == 32776
assert ok(400, "POST", f"{out['JobReference']}/RequestStateChange", {})[1]["ReturnValue"] == 32773
ok(200, "GET", "/v1/jobs")
ok(200, "GET", "/v1/jobs?vm=app")
ok(200, "GET", out["JobReference"])
ok(404, "GET", "/v1/jobs/00000000-0000-0000-0000-000000000000")
ok(200, "GET", "/metrics")
assert c.events("?after=0")["event"] == "VmAdded"
assert c.events(f"?after=0&job={out['JobId']}")["event"] == "JobCreated"
ok(400, "GET", "/v1/events?after=-1")
ok(200, "POST", "/v1/vms/app/failover", {})
ok(200, "POST", "/v1/vms/app/failover", {"Commit": True})
hdrs, out2 = ok(202, "POST", "/v1/vms/app/failback",
                {"ReplicationSettingData": '{"change_source":"full","rate_limit":16384,"request_size":65536}'})
ok(409, "DELETE", "/v1/vms/app")
ok(409, "DELETE", out2["JobReference"])
ok(200, "POST", f"{out2['JobReference']}/RequestStateChange", {"RequestedState": 5})
assert c.wait_job(out2["JobReference"])["JobState"] in (8, 9)
ok(200, "DELETE", out2["JobReference"])
ok(200, "DELETE", out["JobReference"])
ok(404, "DELETE", "/v1/vms/app/recovery-points/r9")
ok(200, "DELETE", "/v1/vms/app/recovery-points/r1")
ok(200, "DELETE", "/v1/vms/app")
left = c.uncovered()
assert not left, f"operations never called: {left}"
print(f"{len(c.called)} operations validated against doc/openapi.yaml")
PY
stop_resyncd_clean
echo "daemon-openapi: real responses match doc/openapi.yaml"
