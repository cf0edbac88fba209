#!/bin/bash
# resyncctl --json gives the API's JSON: each reply of vm list/show, job
# list/show, failover (with and without --track), failback (with and
# without --wait), recovery-point list/show, job kill, events --json and a refusal is validated against the schema of
# doc/openapi.yaml that the matching API call declares
# (tests/e2e/openapi_check.py's Spec), so the CLI cannot drift from the API.
. "$(dirname "$0")/lib.bash"
python3 -c 'import jsonschema, yaml, referencing' 2>/dev/null || skip "python3-jsonschema or python3-yaml missing"

head -c 1M /dev/urandom >"$TMP/t.img"
head -c 1M /dev/urandom >"$TMP/rp.img"
head -c 1M /dev/urandom >"$TMP/tr.img"
head -c 1M /dev/urandom >"$TMP/slow.img"
TMP=$TMP SPEC=$ROOT/doc/openapi.yaml PYTHONPATH=$ROOT/tests/e2e python3 - <<'PY'
import json, os, subprocess
from openapi_check import Spec
tmp = os.environ["TMP"]
spec = Spec(os.environ["SPEC"])

def ctl(want_exit, *args):
    p = subprocess.run(["resyncctl", "--state-dir", f"{tmp}/state", "--json", *args],
                       capture_output=True, text=True)
    assert p.returncode == want_exit, (args, p.returncode, p.stdout, p.stderr)
    return p.stdout

def reply(want_exit, kind, name, *args):
    out = json.loads(ctl(want_exit, *args))
    (spec.check_response if kind == "response" else spec.check_schema)(name, out, " ".join(args))
    return out

reply(0, "response", "Done", "vm", "add", "app", "--disk", f"d0={tmp}/t.img")
reply(0, "response", "VmList", "vm", "list")
reply(0, "response", "Done", "recovery-point", "add", "app", "r1", "--disk", f"d0={tmp}/rp.img")
reply(0, "response", "RecoveryPointList", "recovery-point", "list", "app")
reply(0, "response", "RecoveryPoint", "recovery-point", "show", "app", "r1")
plain = reply(0, "response", "Done", "failover", "app")
spec.check_schema("FailoverReply", plain, "failover")
assert plain["TrackingLogs"] == [], plain
gen = "0123456789abcdef0123456789abcdef"
reply(0, "response", "Done", "vm", "add", "tr", "--disk", f"d0={tmp}/tr.img,generation={gen}")
reply(0, "response", "Done", "recovery-point", "add", "tr", "r1", "--disk", f"d0={tmp}/rp.img")
tracked = reply(0, "schema", "FailoverReply", "failover", "tr", "--track", f"d0={tmp}/d0.log")
assert tracked["SchemaVersion"] == 2, tracked
assert tracked["TrackingLogs"] == [{"Disk": "d0", "Path": f"{tmp}/d0.log", "BaseGenerationId": gen}], tracked
reply(0, "response", "Vm", "vm", "show", "app")
started = reply(0, "schema", "FailbackStarted", "failback", "app", "--settings", '{"change_source":"full"}')
assert started["ReturnValue"] == 4096 and started["SchemaVersion"] == 2, started
assert started["JobReference"] == "/v1/jobs/" + started["JobId"], started
assert started["Job"]["InstanceID"] == started["JobId"], started
waited = reply(0, "response", "Job", "job", "wait", started["JobId"])
assert waited["Job"]["JobState"] == 7, waited
shown = reply(0, "response", "Job", "job", "show", started["JobId"])
reply(0, "response", "JobList", "job", "list")
reply(0, "response", "Done", "failover", "app")
done = reply(0, "schema", "FailbackStarted", "failback", "app", "--wait", "--settings", '{"change_source":"full"}')
assert done["ReturnValue"] == 0 and done["Job"]["JobState"] == 7, done
# One shape: failback's Job is the record job show gives.
assert done["Job"] == reply(0, "response", "Job", "job", "show", done["JobId"])["Job"], done
err = reply(8, "response", "Error", "failback", "app")
assert err["ReturnValue"] == 32775, err
reply(6, "response", "Error", "vm", "show", "nope")
# job kill on a job a 16 KiB/s rate keeps running: 0 or 4096 and its id.
reply(0, "response", "Done", "vm", "add", "slow", "--disk", f"d0={tmp}/slow.img")
reply(0, "response", "Done", "recovery-point", "add", "slow", "r1", "--disk", f"d0={tmp}/rp.img")
reply(0, "response", "Done", "failover", "slow")
slow = reply(0, "schema", "FailbackStarted", "failback", "slow", "--settings",
             '{"change_source":"full","rate_limit":16384,"request_size":65536}')
killed = reply(0, "schema", "StateChangeReply", "job", "kill", slow["JobId"])
assert killed["JobId"] == slow["JobId"], killed
ended = json.loads(ctl(1, "job", "wait", slow["JobId"]))
assert ended["ReturnValue"] == 32768 and ended["Job"]["JobState"] in (8, 9), ended
lines = ctl(0, "events").splitlines()
assert len(lines) > 1, lines
for line in lines[:-1]:
    spec.check_schema("Event", json.loads(line), "events --json")
spec.check_response("Done", json.loads(lines[-1]), "events --json: the ReturnValue line")
print(f"{len(lines) + 23} resyncctl --json replies match doc/openapi.yaml")
PY
echo "cli-schema: resyncctl --json matches doc/openapi.yaml"
