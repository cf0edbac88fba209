#!/bin/bash
# A source NBD server stopped (SIGSTOP) in the middle of `resync copy
# --queue-depth 2`: with a 5 s stall timeout the copy exits with the timeout
# error instead of hanging (the connections with nothing in flight used to
# hold it forever in nbd_shutdown()), for nbdkit and for qemu-nbd.  The stop
# comes once the JSON progress shows bytes copied, not after a sleep.
. "$(dirname "$0")/lib.bash"
command -v nbdkit >/dev/null || skip "nbdkit not installed"
command -v qemu-nbd >/dev/null || skip "qemu-nbd not installed"
SERVER=
stop_server() {
	if [ -n "$SERVER" ]; then
		kill -CONT "$SERVER" 2>/dev/null || true
		kill -9 "$SERVER" 2>/dev/null || true
		wait "$SERVER" 2>/dev/null || true
	fi
	SERVER=
}
trap 'stop_server; cleanup' EXIT

head -c 64M /dev/urandom >"$TMP/src.img"
export RESYNC_NBD_IO_TIMEOUT_MS=5000

# stall NAME SERVER-COMMAND...: serves src.img on $TMP/NAME.sock, stops the
# server once the copy has made progress, and checks how the copy ends.
stall() {
	local name=$1 sock=$TMP/$1.sock i rc done_bytes
	shift
	rm -f "$sock"
	truncate -s 0 "$TMP/dst.img"; truncate -s 64M "$TMP/dst.img"
	"$@" >"$TMP/$name.server.log" 2>&1 &
	SERVER=$!
	for i in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || fail "$name did not start: $(cat "$TMP/$name.server.log")"
	resync copy "nbd+unix:///?socket=$sock" "$TMP/dst.img" --queue-depth 2 --rate 4M \
		--json --progress-interval 50 >"$TMP/$name.json" 2>"$TMP/$name.err" &
	local copy=$!
	for i in $(seq 600); do
		done_bytes=$(json_field "$TMP/$name.json" bytes_done)
		[ "${done_bytes:-0}" -gt 0 ] && break
		kill -0 "$copy" 2>/dev/null || break
		sleep 0.05
	done
	[ "${done_bytes:-0}" -gt 0 ] || fail "$name: the copy made no progress: $(cat "$TMP/$name.err")"
	kill -STOP "$SERVER"
	# The stall is noticed after 5 s; closing must not add an unbounded wait.
	for i in $(seq 600); do kill -0 "$copy" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$copy" 2>/dev/null; then
		kill -9 "$copy"
		fail "$name: resync copy still running 60 s after the server stopped"
	fi
	set +e; wait "$copy"; rc=$?; set -e
	stop_server
	[ "$rc" = 1 ] || fail "$name: exit $rc, want 1; stderr: $(cat "$TMP/$name.err")"
	grep -q "no reply from the server within 5000 ms" "$TMP/$name.err" "$TMP/$name.json" ||
		fail "$name: not the timeout error: $(cat "$TMP/$name.err") $(tail -1 "$TMP/$name.json")"
}

stall nbdkit nbdkit -f -U "$TMP/nbdkit.sock" file "$TMP/src.img"
stall qemu-nbd qemu-nbd -f raw -r -t -e 4 -k "$TMP/qemu-nbd.sock" "$TMP/src.img"
echo "PASS: a stopped NBD source times out and the copy exits (nbdkit, qemu-nbd)"
