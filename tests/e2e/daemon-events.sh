#!/bin/bash
# GET /v1/events end to end: a failback followed on the stream to
# ReplicationState 14 and JobState 7 with the target byte-identical; the
# ids and contents equal `resyncctl events --json`; an event a resyncctl
# call makes (no daemon involved) reaches open streams; a kill -9 of the
# daemon mid-job and a reconnect with Last-Event-ID lose and repeat no
# event; a cursor past retention gets event: reset; many concurrent streams
# all get the same events with the daemon's RSS bounded; SIGTERM with open
# streams exits promptly.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
ctl() { resyncctl --state-dir "$TMP/state" "$@"; }

head -c 4M /dev/urandom >"$TMP/target.img"
head -c 4M /dev/urandom >"$TMP/rp.img"
start_resyncd
expect_api 201 0 POST /v1/vms "{\"Name\":\"app\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/target.img\"}]}"
expect_api 201 0 POST /v1/vms/app/recovery-points "{\"Id\":\"r\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/rp.img\"}]}"
expect_api 200 0 POST /v1/vms/app/failover '{}'

# A slow failback; the daemon is killed once the stream saw it running,
# and the client reconnects to a new daemon with the last id it saw.
TMP=$TMP python3 - <<'PY' >"$TMP/part1.json"
import json
from resyncd_client import Client, EventStream
c = Client()
s = EventStream(query="?after=0")
_, out = c.expect(202, 4096, "POST", "/v1/vms/app/failback",
                  {"ReplicationSettingData": '{"change_source":"full","rate_limit":1048576}'})
job = out["JobId"]
got = s.until(lambda e: e["event"] == "JobChanged" and e["data"]["JobId"] == job
              and e["data"]["Properties"]["JobState"] == 4 and e["data"]["Properties"]["PercentComplete"] > 0)
print(json.dumps({"job": job, "events": got}))
PY
kill -9 "$RESYNCD_PID"
wait "$RESYNCD_PID" 2>/dev/null || true
rm -f "$TMP/resyncd.pid"
# Room for the many streams below (stress opens 200; the default cap is 128).
start_resyncd --max-event-streams 256
last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"][-1]["id"])' "$TMP/part1.json")
job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"])' "$TMP/part1.json")
LAST=$last JOB=$job python3 - <<'PY' >"$TMP/part2.json"
import json, os
from resyncd_client import EventStream
job = os.environ["JOB"]
s = EventStream(last_event_id=int(os.environ["LAST"]))
got = s.until(lambda e: e["event"] == "JobChanged" and e["data"]["JobId"] == job
              and e["data"]["Properties"]["JobState"] == 7)
print(json.dumps({"events": got}))
PY
same "$TMP/target.img" "$TMP/rp.img"
expect_rc 0 ctl events --json
grep '^{"Id"' "$TMP/out" >"$TMP/journal.jsonl"
python3 - "$TMP/part1.json" "$TMP/part2.json" "$TMP/journal.jsonl" <<'PY' || fail "stream and journal differ"
import json, sys
evs = json.load(open(sys.argv[1]))["events"] + json.load(open(sys.argv[2]))["events"]
journal = [json.loads(l) for l in open(sys.argv[3])]
ids = [e["id"] for e in evs]
assert ids == list(range(1, len(ids) + 1)), ids
for e in evs:
    j = journal[e["id"] - 1]
    assert e["data"] == j and e["event"] == j["Kind"], (e, j)
# The failback's end: the VM's ReplicationState 14, then the job's 7.
vm14 = [e["id"] for e in evs if e["data"].get("VirtualSystem") == "app" and e["event"] == "VmChanged"
        and e["data"]["Properties"]["ReplicationState"] == 14]
assert vm14 and vm14[-1] < ids[-1], (vm14, ids[-1])
PY

# An event resyncctl makes reaches open streams, the same on all of them;
# the daemon's memory stays bounded with many open.
n=$(rounds 50 200)
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$RESYNCD_PID/status")
N=$n python3 - <<'PY' &
import os
from resyncd_client import EventStream
streams = [EventStream() for _ in range(int(os.environ["N"]))]
open(os.environ["RESYNCD_SOCK"] + ".ready", "w").close()
for s in streams:
    got = s.until(lambda e: e["event"] == "VmAdded" and e["data"]["VirtualSystem"] == "cli")
    assert len(got) == 1, got
print("streams-ok")
PY
reader=$!
for _ in $(seq 1200); do [ -e "$RESYNCD_SOCK.ready" ] && break; sleep 0.05; done
[ -e "$RESYNCD_SOCK.ready" ] || fail "$n streams did not open"
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$RESYNCD_PID/status")
expect_rc 0 ctl vm add cli --disk "d0=$TMP/cli.img"
wait "$reader" || fail "the streams did not all get the CLI's VmAdded"
# 64 KiB per connection (MHD's limit) bounds what a stream may hold.
[ $((rss1 - rss0)) -lt $((n * 64 + 32768)) ] || fail "RSS grew from $rss0 to $rss1 KiB with $n streams"

# SIGTERM with streams open: the daemon ends them and exits.
for _ in $(seq 10); do
	curl -sN -m 120 --unix-socket "$RESYNCD_SOCK" http://resyncd/v1/events >/dev/null &
done
rm -f "$RESYNCD_SOCK.ready"
for _ in $(seq 200); do
	[ "$(ls /proc/"$RESYNCD_PID"/fd | wc -l)" -gt 15 ] && break
	sleep 0.05
done
stop_resyncd_clean
wait

# A cursor that retention has passed: event: reset, then the oldest kept.
export RESYNC_JOURNAL_SEGMENT_BYTES=1024 RESYNC_JOURNAL_SEGMENTS=2
mkdir -p "$TMP/small"
for i in $(seq 12); do
	resyncctl --state-dir "$TMP/small" vm add "v$i" --disk "d0=$TMP/v$i.img" >/dev/null ||
		fail "vm add v$i"
done
RESYNCD_SOCK=$TMP/run/small.sock
resyncd --socket "$RESYNCD_SOCK" --state-dir "$TMP/small" 2>>"$TMP/resyncd.log" &
RESYNCD_PID=$!
echo "$RESYNCD_PID" >"$TMP/resyncd.pid"
for _ in $(seq 600); do curl -s --unix-socket "$RESYNCD_SOCK" -o /dev/null http://resyncd/v1/vms && break; sleep 0.05; done
python3 - <<'PY' || fail "no reset for a cursor past retention"
from resyncd_client import EventStream
s = EventStream(last_event_id=1)
e = s.next()
assert e["event"] == "reset" and e["data"]["After"] == 1, e
oldest = e["data"]["Oldest"]
assert oldest > 2 and e["id"] == oldest - 1, e
n = s.next()
assert n["id"] == oldest and n["event"] == "VmAdded", n
PY
expect_api 400 32773 GET '/v1/events?after=x'
stop_resyncd_clean
echo "daemon-events: stream = journal across a kill -9, CLI events seen by $n streams, reset past retention"
