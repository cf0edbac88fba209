#!/bin/bash
# resyncd's cap on event streams (--max-event-streams): streams have no
# idle timeout, so with the cap's streams held open one more gets 503 with
# ReturnValue 32777 and a JSON body, a method call still gets a connection
# and succeeds, and a stream that ends frees its place.  A cap not below
# --connection-limit is refused at start.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"

expect_rc 1 resyncd --socket "$TMP/x.sock" --state-dir "$TMP/state" --max-event-streams 4 \
	--connection-limit 4
grep -q -- '--max-event-streams 4 must be below --connection-limit 4' "$TMP/err" ||
	fail "cap at the connection limit: $(cat "$TMP/err")"

start_resyncd --max-event-streams 2 --connection-limit 4 --threads 1
TARGET=$TMP/t.img python3 - <<'PY'
import os, time
from resyncd_client import Client, EventStream
c = Client()
held = [EventStream(), EventStream()]
status, _, out = c.call("GET", "/v1/events")
assert status == 503, (status, out)
assert out["ReturnValue"] == 32777, out
assert "2 event streams are open" in out["ErrorDescription"], out
# The operator still gets a connection for a method call.
c.expect(201, 0, "POST", "/v1/vms",
         {"Name": "app", "Disks": [{"Name": "d0", "Target": os.environ["TARGET"]}]})
# The call shows on the held streams: they are live, not just counted.
for s in held:
    s.until(lambda ev: ev["event"] == "VmAdded" and ev["data"]["VirtualSystem"] == "app")
# A closed stream frees its place (once the daemon has seen it go).
held.pop().close()
for _ in range(1200):
    try:
        held.append(EventStream())
        break
    except AssertionError as e:
        assert "HTTP 503" in str(e), e
        time.sleep(0.05)
else:
    raise AssertionError("no stream 60 s after one of the capped ones was closed")
print("two streams held, the third refused with 503, a method call served")
PY
grep -q 'GET /v1/events -> 503 ReturnValue=32777' "$TMP/resyncd.log" ||
	fail "the refused stream is not logged: $(tail -5 "$TMP/resyncd.log")"
stop_resyncd_clean
echo "daemon-stream-limit: event streams are capped below the connection limit"
