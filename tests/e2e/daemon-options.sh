#!/bin/bash
# resyncd's options: --version and the option table documented in
# doc/resyncd.md and completed; bad options and TCP without TLS refused at
# start; the --config file (overridden by the command line); --refuse-readers;
# and --listen with TLS: certificate-less TCP callers are refused (32769),
# GET included, unless --tcp-anonymous-readers; then a GET over https
# answers, methods are still refused, plain HTTP gets no answer;
# --connection-limit.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
[ "$(id -u)" = 0 ] || skip "needs root (setpriv to another uid)"
check_options resyncd doc/resyncd.md

expect_rc 1 resyncd --bogus
grep -q 'unknown option "--bogus"' "$TMP/err" || fail "--bogus: $(cat "$TMP/err")"
expect_rc 1 resyncd --state-dir "$TMP/state" --socket "$TMP/x.sock" --listen 127.0.0.1:1
grep -q -- '--listen needs TLS' "$TMP/err" || fail "TCP without TLS: $(cat "$TMP/err")"
expect_rc 1 resyncd --timeout 0
grep -q -- '--timeout wants a number 1..86400' "$TMP/err" || fail "--timeout 0: $(cat "$TMP/err")"
expect_rc 1 resyncd --operator-group no-such-group-here
printf 'refuse-readers = maybe\n' >"$TMP/bad.conf"
expect_rc 1 resyncd --config "$TMP/bad.conf"
grep -q 'bad.conf:1: refuse-readers wants true or false' "$TMP/err" || fail "config: $(cat "$TMP/err")"

# The config file, and the command line over it.
chmod 755 "$TMP"
printf '# resyncd.conf\nrefuse-readers = true\nsocket-mode = 0600\nbody-limit = 100000\n' >"$TMP/resyncd.conf"
start_resyncd --config "$TMP/resyncd.conf" --socket-mode 0666
[ "$(stat -c %a "$RESYNCD_SOCK")" = 666 ] || fail "socket mode $(stat -c %a "$RESYNCD_SOCK")"
setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -w '\n%{http_code}' \
	--unix-socket "$RESYNCD_SOCK" http://resyncd/v1/vms >"$TMP/out" || true
[ "$(tail -1 "$TMP/out")" = 403 ] && grep -q '"ReturnValue":32769' "$TMP/out" ||
	fail "--refuse-readers let nobody read: $(cat "$TMP/out")"
expect_api 200 0 GET /v1/vms
stop_resyncd

# TLS on TCP.
certtool --generate-privkey --outfile "$TMP/key.pem" >/dev/null 2>&1
cat >"$TMP/cert.cfg" <<CFG
cn = localhost
ip_address = 127.0.0.1
expiration_days = 2
tls_www_server
CFG
certtool --generate-self-signed --load-privkey "$TMP/key.pem" --template "$TMP/cert.cfg" \
	--outfile "$TMP/cert.pem" >/dev/null 2>&1
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_resyncd --listen "127.0.0.1:$port" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
code=$(curl -s --cacert "$TMP/cert.pem" -o "$TMP/out" -w '%{http_code}' "https://127.0.0.1:$port/v1/vms")
[ "$code" = 403 ] && grep -q '"ReturnValue":32769' "$TMP/out" ||
	fail "an anonymous TCP caller could read by default: $code $(cat "$TMP/out")"
stop_resyncd_clean
# A fresh port: the one above may hold connections in TIME_WAIT.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_resyncd --listen "127.0.0.1:$port" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	--tcp-anonymous-readers
code=$(curl -s --cacert "$TMP/cert.pem" -o "$TMP/out" -w '%{http_code}' "https://127.0.0.1:$port/v1/vms")
[ "$code" = 200 ] || fail "GET over TLS: $code $(cat "$TMP/out")"
code=$(curl -s --cacert "$TMP/cert.pem" -X POST -d '{}' -o "$TMP/out" -w '%{http_code}' \
	"https://127.0.0.1:$port/v1/vms/x/failover")
[ "$code" = 403 ] && grep -q '"ReturnValue":32769' "$TMP/out" || fail "POST over TLS: $code $(cat "$TMP/out")"
code=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/vms" || true)
[ "$code" != 200 ] || fail "plain HTTP answered on the TLS port"
stop_resyncd_clean

# --connection-limit: a connection over the limit waits in the backlog
# until one under it ends; and the daemon still stops at once with every
# slot taken.
start_resyncd --connection-limit 2 --threads 1 --timeout 300
(READY=$TMP/held python3 - <<'PY'
import os, socket
path = os.environ["RESYNCD_SOCK"]
req = b"GET /v1/vms HTTP/1.1\r\nHost: resyncd\r\n\r\n"
held = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(req)
    s.settimeout(60)
    assert s.recv(65536).startswith(b"HTTP/1.1 200"), "a connection under the limit was not served"
    held.append(s)
extra = socket.socket(socket.AF_UNIX)
extra.connect(path)
extra.sendall(req)
extra.settimeout(1)
try:
    data = extra.recv(65536)
except socket.timeout:
    data = None
assert data is None, f"a third connection was served past the limit: {data}"
held[0].close()
extra.settimeout(60)
assert extra.recv(65536).startswith(b"HTTP/1.1 200"), "the waiting connection was not served"
# Every slot taken again (held[1] and extra) while the daemon is stopped.
open(os.environ["READY"], "w").write("held")
extra.settimeout(None)
extra.recv(65536)
PY
) &
held_pid=$!
for _ in $(seq 1200); do [ -f "$TMP/held" ] && break; sleep 0.05; done
[ -f "$TMP/held" ] || fail "the connection-limit client did not get through"
stop_resyncd_clean
wait "$held_pid" || fail "the connection-limit client failed"
echo "daemon-options: options documented, config, TLS and limits honoured"
