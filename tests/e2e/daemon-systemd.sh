#!/bin/bash
# resyncd under systemd, without systemd as PID 1: the shipped units pass
# `systemd-analyze verify` (offline, ExecStart pointing at the built binary)
# and stay under exposure 5.0 of `systemd-analyze security`; `make
# install` puts them in the unit directory with the installed path; the
# notify protocol against a real NOTIFY_SOCKET listener gives READY=1 with
# STATUS once the socket answers, then STOPPING=1 on SIGTERM; socket
# activation by systemd-socket-activate serves the passed Unix (and TCP)
# socket instead of making its own, and leaves the socket to its owner;
# a passed socket of the wrong kind is refused with a reason.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
for t in systemd-analyze systemd-socket-activate; do
	command -v "$t" >/dev/null || skip "$t not installed (package systemd)"
done

# The units as installed, with the built resyncd in ExecStart, so verify
# can check that the command exists.  Any message is a finding.
mkdir -p "$TMP/units"
sed "s|@BINDIR@|$ROOT/$B/bin|g" "$ROOT/daemon/systemd/resyncd.service.in" >"$TMP/units/resyncd.service"
sed "s|@BINDIR@|$ROOT/$B/bin|g" "$ROOT/daemon/systemd/resyncd.socket.in" >"$TMP/units/resyncd.socket"
systemd-analyze verify --man=no "$TMP/units/resyncd.service" "$TMP/units/resyncd.socket" \
	>"$TMP/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$TMP/verify")"
[ ! -s "$TMP/verify" ] || fail "systemd-analyze verify warns: $(cat "$TMP/verify")"
# A broken unit is caught, so the check above means something.
sed 's|^ExecStart=[^ ]*|ExecStart=/nonexistent/resyncd|' "$TMP/units/resyncd.service" >"$TMP/bad.service"
systemd-analyze verify --man=no "$TMP/bad.service" >"$TMP/verify" 2>&1 &&
	fail "verify passed a unit whose ExecStart does not exist"
grep -q 'nonexistent/resyncd' "$TMP/verify" || fail "verify of a bad unit: $(cat "$TMP/verify")"
systemd-analyze security --offline=yes --threshold=50 "$TMP/units/resyncd.service" >"$TMP/security" 2>&1 ||
	fail "resyncd.service exposure above 5.0: $(tail -3 "$TMP/security")"
for k in 'Type=notify' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/resync /run/resync' \
	'PrivateTmp=yes' 'NoNewPrivileges=yes' 'DeviceAllow=block-\* rw' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'CapabilityBoundingSet=CAP_'; do
	grep -qx "$k.*" "$TMP/units/resyncd.service" || fail "resyncd.service lacks $k"
done

make -s -C "$ROOT" install-systemd PREFIX=/usr DESTDIR="$TMP/root" >/dev/null
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /usr/lib/systemd/system)
grep -qx 'ExecStart=/usr/bin/resyncd $RESYNCD_OPTIONS' "$TMP/root$unitdir/resyncd.service" ||
	fail "installed unit: $(grep ExecStart "$TMP/root$unitdir/resyncd.service" 2>&1)"
[ -f "$TMP/root$unitdir/resyncd.socket" ] || fail "resyncd.socket not installed in $unitdir"

# The notify protocol: a datagram socket where systemd's would be.
STATE=$TMP/state SOCK=$TMP/run/notify-test.sock NOTIFY=$TMP/notify.sock python3 - <<'PY'
import os, signal, socket, subprocess, time
env = dict(os.environ, NOTIFY_SOCKET=os.environ["NOTIFY"])
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(os.environ["NOTIFY"])
listener.settimeout(60)
d = subprocess.Popen(["resyncd", "--socket", os.environ["SOCK"], "--state-dir", os.environ["STATE"]],
                     env=env, stderr=subprocess.PIPE)
def message():
    fields = dict(l.split("=", 1) for l in listener.recv(4096).decode().splitlines())
    print("notify:", fields)
    return fields
m = message()
assert m.get("READY") == "1", m
assert m.get("STATUS", "").startswith("serving " + os.environ["SOCK"]), m
# Ready means serving: the socket answers now, without a retry.
c = socket.socket(socket.AF_UNIX)
c.connect(os.environ["SOCK"])
c.sendall(b"GET /v1/vms HTTP/1.1\r\nHost: resyncd\r\nConnection: close\r\n\r\n")
c.settimeout(60)
reply = b""
while chunk := c.recv(65536):
    reply += chunk
assert reply.startswith(b"HTTP/1.1 200"), reply
d.send_signal(signal.SIGTERM)
m = message()
assert m.get("STOPPING") == "1", m
assert "STATUS" in m, m
assert d.wait(60) == 0, d.stderr.read()
assert not os.path.exists(os.environ["SOCK"]), "own socket left behind"
PY

# Socket activation: the first connection starts resyncd on the passed
# socket; --socket names a path it must then not make.
act=$TMP/act.sock
activate() {
	systemd-socket-activate "$@" resyncd --state-dir "$TMP/state" --socket "$TMP/own.sock" \
		${RESYNCD_EXTRA:-} 2>"$TMP/activate.log" &
	echo $! >"$TMP/activate.pid"
	local i
	for i in $(seq 600); do
		[ -S "$act" ] && return 0
		sleep 0.05
	done
	fail "systemd-socket-activate did not listen: $(cat "$TMP/activate.log")"
}
stop_activated() {
	kill "$(cat "$TMP/activate.pid")"
	wait "$(cat "$TMP/activate.pid")" || true
	rm -f "$TMP/activate.pid"
}
activate -l "$act"
code=$(curl -s --max-time 60 --unix-socket "$act" -o "$TMP/out" -w '%{http_code}' \
	--data-binary "{\"Name\":\"act\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/t.img\"}]}" \
	-H 'Content-Type: application/json' http://resyncd/v1/vms)
[ "$code" = 201 ] || fail "POST /v1/vms on the activated socket: $code $(cat "$TMP/out") $(cat "$TMP/activate.log")"
code=$(curl -s --max-time 60 --unix-socket "$act" -o "$TMP/out" -w '%{http_code}' http://resyncd/v1/vms/act)
[ "$code" = 200 ] && grep -q '"act"' "$TMP/out" || fail "GET on the activated socket: $code $(cat "$TMP/out")"
grep -q 'listening on the activated Unix socket' "$TMP/activate.log" || fail "log: $(cat "$TMP/activate.log")"
[ ! -e "$TMP/own.sock" ] || fail "resyncd made its own socket although one was passed"
stop_activated
[ -S "$act" ] || fail "resyncd removed the socket systemd owns"
resyncctl --state-dir "$TMP/state" vm show act >/dev/null || fail "the VM registered through activation is not in the store"

# A Unix and a TCP socket passed together; TCP needs TLS or --insecure-tcp.
rm -f "$act"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RESYNCD_EXTRA="--insecure-tcp --tcp-anonymous-readers" activate -l "$act" -l "127.0.0.1:$port"
code=$(curl -s --max-time 60 --unix-socket "$act" -o /dev/null -w '%{http_code}' http://resyncd/v1/vms)
[ "$code" = 200 ] || fail "GET on the activated Unix socket next to TCP: $code $(cat "$TMP/activate.log")"
code=$(curl -s --max-time 60 -o "$TMP/out" -w '%{http_code}' "http://127.0.0.1:$port/v1/vms/act")
[ "$code" = 200 ] || fail "GET on the activated TCP socket: $code $(cat "$TMP/activate.log")"
stop_activated
rm -f "$act"
# A fresh port: the one above may hold connections in TIME_WAIT.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
activate -l "$act" -l "127.0.0.1:$port"
curl -s --max-time 60 --unix-socket "$act" http://resyncd/v1/vms >/dev/null 2>&1 || true
wait "$(cat "$TMP/activate.pid")" && fail "an activated TCP socket without TLS was served"
grep -q 'an activated TCP socket needs TLS' "$TMP/activate.log" || fail "TCP without TLS: $(cat "$TMP/activate.log")"
rm -f "$act" "$TMP/activate.pid"
activate -d -l "$act"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"x", sys.argv[1])' "$act"
wait "$(cat "$TMP/activate.pid")" && fail "a datagram socket was accepted"
grep -q 'fd 3 is not a listening stream socket' "$TMP/activate.log" || fail "datagram socket: $(cat "$TMP/activate.log")"
rm -f "$TMP/activate.pid"
echo "units verified, notify protocol and socket activation work"

# --job-units without a system bus: the job runs to its end where it is,
# the reason logged.  (Moving it into a scope needs systemd as PID 1.)
head -c 4M /dev/urandom >"$TMP/rp.img"
head -c 4M /dev/urandom >"$TMP/j.img"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$TMP/no-bus start_resyncd --job-units
expect_api 201 0 POST /v1/vms "{\"Name\":\"j\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/j.img\"}]}"
expect_api 201 0 POST /v1/vms/j/recovery-points "{\"Id\":\"r\",\"Disks\":[{\"Name\":\"d0\",\"Image\":\"$TMP/rp.img\"}]}"
expect_api 200 0 POST /v1/vms/j/failover '{}'
# Rate-limited to about 2 s, so the worker is alive when the daemon looks.
expect_api 202 4096 POST /v1/vms/j/failback \
	'{"RecoveryPointIdentifier":"r","ReplicationSettingData":{"change_source":"full","rate_limit":2097152}}'
job=$(grep -o '"/v1/jobs/[^"]*"' "$TMP/out" | head -1 | tr -d '"')
[ -n "$job" ] || fail "no job in $(cat "$TMP/out")"
for i in $(seq 1200); do
	api GET "$job" >/dev/null
	[ "$(json_field "$TMP/out" JobState)" = 7 ] && break
	case $(json_field "$TMP/out" JobState) in 8 | 9 | 10) fail "job ended: $(cat "$TMP/out")" ;; esac
	sleep 0.05
done
[ "$(json_field "$TMP/out" JobState)" = 7 ] || fail "job did not complete: $(cat "$TMP/out")"
same "$TMP/rp.img" "$TMP/j.img"
grep -q "job ${job#/v1/jobs/}: not moved into resync-job-${job#/v1/jobs/}.scope (the worker stays in resyncd's cgroup): system bus:" \
	"$TMP/resyncd.log" || fail "no reason logged: $(cat "$TMP/resyncd.log")"
stop_resyncd
echo "--job-units falls back without a system bus"
