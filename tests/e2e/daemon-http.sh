#!/bin/bash
# resyncd against bad HTTP input and load: a body over the limit gets 413
# (announced or chunked) and is not read into memory, malformed JSON 32776
# with 400 at every method, unknown paths 404 and wrong methods 405 with
# Allow, a client that stops mid-request is disconnected after --timeout
# while others are served, and rounds of many concurrent connections on
# loopback TCP leave the daemon's RSS under a bound, without growth from
# round to round.  TCP callers are readers (--tcp-anonymous-readers):
# methods get 403, before their body is read.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"

ulimit -n 8192 2>/dev/null || skip "cannot raise the open file limit to 8192"
# ASan's quarantine holds freed memory by design: keep it small so RSS
# growth still means a leak in a sanitized build.
export ASAN_OPTIONS=quarantine_size_mb=1:${ASAN_OPTIONS:-}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_resyncd --timeout 1 --body-limit 4096 --listen "127.0.0.1:$port" --insecure-tcp --tcp-anonymous-readers --connection-limit 2048
expect_api 201 0 POST /v1/vms "{\"Name\":\"app\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/t.img\"}]}"

# Bodies over the limit: announced by Content-Length, or chunked.
head -c 5000 /dev/zero | tr '\0' ' ' >"$TMP/big"
expect_api 413 32773 POST /v1/vms "@$TMP/big"
grep -q 'larger than the limit of 4096 bytes' "$TMP/out" || fail "413 without a reason: $(cat "$TMP/out")"
code=$(curl -s --unix-socket "$RESYNCD_SOCK" -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/big" \
	-o "$TMP/out" -w '%{http_code}' http://resyncd/v1/vms)
[ "$code" = 413 ] || fail "chunked body over the limit: $code $(cat "$TMP/out")"
# Far over the limit: answered before the body is read.
head -c 400000 /dev/zero | tr '\0' ' ' >"$TMP/huge"
expect_api 413 32773 POST /v1/vms "@$TMP/huge"
# Exactly at the limit is a body like any other.
printf '%-4096s' '{"Name":"x"}' >"$TMP/limit"
expect_api 400 32773 POST /v1/vms "@$TMP/limit"

# Malformed JSON at every method that takes a body.
for p in /v1/vms /v1/vms/app/failover /v1/vms/app/failback /v1/vms/app/recovery-points; do
	expect_api 400 32776 POST "$p" '{"Name": "a",'
	grep -q 'not JSON' "$TMP/out" || fail "$p: $(cat "$TMP/out")"
done
expect_api 400 32776 POST /v1/vms '{"Name":"a"} trailing'
expect_api 400 32776 POST /v1/vms '"a string"'
expect_api 400 32776 POST /v1/vms '{"Name":7,"Disks":[]}'
expect_api 404 32773 GET /v1/nothing
expect_api 404 32773 GET /v1/vms/no-such-vm
expect_api 404 32773 GET /v1/vms/..%2F..%2Fetc
code=$(curl -s --unix-socket "$RESYNCD_SOCK" -X PUT -D "$TMP/headers" -o "$TMP/out" -w '%{http_code}' http://resyncd/v1/jobs)
[ "$code" = 405 ] && grep -qi '^Allow: GET' "$TMP/headers" || fail "PUT /v1/jobs: $code $(cat "$TMP/headers")"
[ "$(json_field "$TMP/out" ReturnValue)" = 32770 ] || fail "405 body: $(cat "$TMP/out")"

# TCP: readers.
code=$(curl -s -o "$TMP/out" -w '%{http_code}' "http://127.0.0.1:$port/v1/vms/app")
[ "$code" = 200 ] || fail "GET over TCP: $code"
code=$(curl -s -X POST -d '{}' -o "$TMP/out" -w '%{http_code}' "http://127.0.0.1:$port/v1/vms/app/failover")
[ "$code" = 403 ] && [ "$(json_field "$TMP/out" ReturnValue)" = 32769 ] || fail "POST over TCP: $code $(cat "$TMP/out")"
# A reader's method is refused before its body is read: the 403 comes
# while most of the body is still unsent (the old order waited for it, or
# answered 413 to one over the limit).
PORT=$port python3 - <<'PY'
import os, socket
port = int(os.environ["PORT"])
for length in (5000, 400000):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"POST /v1/vms HTTP/1.1\r\nHost: resyncd\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % length + b" " * 100)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 403"), (length, data[:300])
    assert b'"ReturnValue":32769' in data, (length, data)
print("a reader's POST is refused before its body is read")
PY

# A slow client: half a request line of headers, then silence.
RESYNCD_PID=$RESYNCD_PID python3 - <<'PY'
import os, socket, time
from resyncd_client import Client
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["RESYNCD_SOCK"])
s.sendall(b"POST /v1/vms HTTP/1.1\r\nHost: resyncd\r\nContent-Length: 100\r\n\r\n{\"Na")
# Others are served meanwhile.
status, _, out = Client().call("GET", "/v1/vms/app")
assert status == 200, (status, out)
s.settimeout(60)
start = time.monotonic()
data = s.recv(65536)
assert data == b"", data
print(f"slow client disconnected after {time.monotonic() - start:.1f} s")
PY

# Rounds of concurrent connections on loopback: all answered, RSS bounded.
conns=$(rounds 200 1000)
nrounds=$(rounds 3 5)
PORT=$port CONNS=$conns ROUNDS=$nrounds RESYNCD_PID=$RESYNCD_PID python3 - <<'PY'
import os, selectors, socket
port, n, rounds, pid = (int(os.environ[k]) for k in ("PORT", "CONNS", "ROUNDS", "RESYNCD_PID"))
def rss():
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0].split()[1]) // 1024
req = b"GET /v1/vms/app HTTP/1.1\r\nHost: resyncd\r\nConnection: close\r\n\r\n"
seen = []
for r in range(rounds):
    socks = []
    for _ in range(n):          # all open at once before any request
        s = socket.create_connection(("127.0.0.1", port), timeout=120)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
    done = 0
    while done < n:
        events = sel.select(timeout=120)
        assert events, f"round {r}: {n - done} connections unanswered"
        for key, _ in events:
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if chunk:
                key.data.extend(chunk)
                continue
            assert key.data.startswith(b"HTTP/1.1 200"), bytes(key.data[:200])
            sel.unregister(key.fileobj)
            key.fileobj.close()
            done += 1
    seen.append(rss())
print(f"{rounds} rounds of {n} concurrent connections; daemon RSS MiB per round: {seen}")
# The bound doc/api.md states: 64 MiB, and no growth beyond 8 MiB after the first round.
assert max(seen) < 64, seen
assert seen[-1] <= seen[0] + 8, seen
PY
stop_resyncd_clean
echo "daemon-http: limits, timeouts and concurrent connections hold"
