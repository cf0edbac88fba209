#!/bin/bash
# resyncd on TCP with TLS and client certificates, with real certificates
# (certtool) and a real client (curl): a certificate of the configured CA
# whose subject a config "client" line maps to operator may call methods, one
# mapped to reader gets 403 with ReturnValue 32769 on a method (and the VM is
# unchanged) but 200 on GET, one the config does not name is refused; a
# client without a certificate, with one from another CA, or speaking plain
# HTTP is refused in the handshake (logged with the reason); a whole-DN
# line wins over a CN line.
# Every method call is logged with the certificate's subject.  Option and
# config-file mistakes are refused with the line that is wrong.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/daemon.bash"
command -v certtool >/dev/null || skip "certtool not installed (package gnutls-bin)"

# A CA, a second CA, the server's certificate, three clients of the CA and
# one of the other CA with the operator's name.
pki=$TMP/pki
mkdir -p "$pki"
selfsigned() { # NAME CN
	printf 'cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' "$2" >"$pki/$1.tmpl"
	certtool --generate-privkey --key-type=ecdsa --outfile "$pki/$1.key" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$pki/$1.key" --template "$pki/$1.tmpl" \
		--outfile "$pki/$1.pem" >/dev/null 2>&1 || fail "certtool: CA $1"
}
issue() { # NAME CA TEMPLATE-LINES
	printf '%s\nexpiration_days = 30\n' "$3" >"$pki/$1.tmpl"
	certtool --generate-privkey --key-type=ecdsa --outfile "$pki/$1.key" 2>/dev/null
	certtool --generate-certificate --load-privkey "$pki/$1.key" --load-ca-certificate "$pki/$2.pem" \
		--load-ca-privkey "$pki/$2.key" --template "$pki/$1.tmpl" --outfile "$pki/$1.pem" \
		>/dev/null 2>&1 || fail "certtool: certificate $1"
}
selfsigned ca "resync test CA"
selfsigned rogue "rogue CA"
issue server ca 'cn = "localhost"
ip_address = "127.0.0.1"
tls_www_server'
issue operator ca 'cn = "appliance1"
organization = "Example"
tls_www_client'
issue reader ca 'cn = "dashboard"
organization = "Example"
tls_www_client'
issue stranger ca 'cn = "stranger"
organization = "Example"
tls_www_client'
issue impostor rogue 'cn = "appliance1"
organization = "Example"
tls_www_client'

# The operator by its CN alone, the reader by its whole DN.
cat >"$TMP/resyncd.conf" <<CONF
# TCP roles
client "CN=appliance1" operator
client	"CN=dashboard,O=Example"   reader   # the dashboard only reads
CONF
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_resyncd --config "$TMP/resyncd.conf" --listen "127.0.0.1:$port" \
	--tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-ca "$pki/ca.pem"
url=https://127.0.0.1:$port
# tls WHO METHOD PATH [BODY]: curl with WHO's certificate ("-" for none);
# the body in $TMP/out, "HTTP-status curl-exit" printed.
tls() {
	local who=$1 cert=() data=() code rc; shift
	[ "$who" = - ] || cert=(--cert "$pki/$who.pem" --key "$pki/$who.key")
	[ $# -ge 3 ] && data=(--data-binary "$3" -H 'Content-Type: application/json')
	rm -f "$TMP/out"
	set +e
	code=$(curl -s --max-time 60 --cacert "$pki/ca.pem" "${cert[@]}" -X "$1" "${data[@]}" \
		-o "$TMP/out" -w '%{http_code}' "$url$2")
	rc=$?
	set -e
	echo "$code $rc"
}
expect_tls() { # STATUS RV WHO METHOD PATH [BODY]
	local want=$1 rv=$2 got; shift 2
	got=$(tls "$@")
	[ "$got" = "$want 0" ] || fail "$1 $2 $3: HTTP/curl $got, want $want: $(cat "$TMP/out" 2>/dev/null)"
	[ "$(json_field "$TMP/out" ReturnValue)" = "$rv" ] || fail "$1 $2 $3: $(cat "$TMP/out"), want ReturnValue $rv"
}

vm="{\"Name\":\"app\",\"Disks\":[{\"Name\":\"d0\",\"Target\":\"$TMP/t.img\"}]}"
expect_tls 201 0 operator POST /v1/vms "$vm"
expect_api 200 0 GET /v1/vms/app
cp "$TMP/out" "$TMP/vm.before"
expect_tls 200 0 reader GET /v1/vms/app
same "$TMP/vm.before" "$TMP/out"
expect_tls 403 32769 reader POST /v1/vms/app/failover '{}'
grep -q 'certificate \\"CN=dashboard,O=Example\\" may not call POST' "$TMP/out" ||
	fail "403 does not name the certificate: $(cat "$TMP/out")"
expect_tls 403 32769 reader DELETE /v1/vms/app
expect_api 200 0 GET /v1/vms/app
same "$TMP/vm.before" "$TMP/out"
# A certificate of the CA that no client line names is no one.
expect_tls 403 32769 stranger GET /v1/vms/app
expect_tls 403 32769 stranger POST /v1/vms/app/failover '{}'

# Refused in the handshake: no HTTP status at all.
for who in - impostor; do
	got=$(tls "$who" GET /v1/vms/app)
	case $got in "000 "[1-9]*) ;; *) fail "client $who: $got $(cat "$TMP/out" 2>/dev/null)" ;; esac
	got=$(tls "$who" POST /v1/vms '{"Name":"x","Disks":[]}')
	case $got in "000 "[1-9]*) ;; *) fail "client $who POST: $got $(cat "$TMP/out" 2>/dev/null)" ;; esac
done
set +e
code=$(curl -s --max-time 60 -o "$TMP/out" -w '%{http_code}' "http://127.0.0.1:$port/v1/vms/app")
rc=$?
set -e
[ "$code" = 000 ] && [ "$rc" != 0 ] || fail "plain HTTP to the TLS port: $code $rc $(cat "$TMP/out" 2>/dev/null)"
expect_api 200 0 GET /v1/vms
grep -q '"x"' "$TMP/out" && fail "a refused client registered a VM: $(cat "$TMP/out")"

# Every method call with the caller's subject.
log=$TMP/resyncd.log
grep -q 'call tcp subject="CN=appliance1,O=Example" POST /v1/vms -> 201 ReturnValue=0' "$log" || fail "log: $(cat "$log")"
grep -q 'call tcp subject="CN=dashboard,O=Example" POST /v1/vms/app/failover -> 403 ReturnValue=32769' "$log" ||
	fail "log: $(cat "$log")"
grep -q 'call tcp subject="CN=stranger,O=Example" POST /v1/vms/app/failover -> 403' "$log" || fail "log: $(cat "$log")"
[ "$(grep -c 'call tcp' "$log")" = 5 ] || fail "calls logged: $(grep 'call tcp' "$log")"
# Refusals in the handshake, with the peer and the reason.
grep -Eq 'tls: refused 127\.0\.0\.1 port [0-9]+: No certificate was found' "$log" || fail "log: $(cat "$log")"
grep -Eq 'tls: refused 127\.0\.0\.1 port [0-9]+: .*issuer is unknown' "$log" || fail "log: $(cat "$log")"
[ "$(grep -c 'tls: refused' "$log")" = 4 ] || fail "refusals logged: $(grep 'tls: refused' "$log")"
# SIGTERM: exit 0, which under SANITIZE=1 also means nothing leaked.
kill "$RESYNCD_PID"
set +e
wait "$RESYNCD_PID"
rc=$?
set -e
rm -f "$TMP/resyncd.pid"
[ "$rc" = 0 ] || fail "resyncd exited $rc on SIGTERM: $(tail -20 "$log")"

# A whole-DN line wins over a CN line for the same certificate.
printf '%s\n' 'client "CN=appliance1" operator' 'client "CN=appliance1,O=Example" reader' >"$TMP/dn.conf"
start_resyncd --config "$TMP/dn.conf" --listen "127.0.0.1:$port" \
	--tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-ca "$pki/ca.pem"
expect_tls 403 32769 operator POST /v1/vms/app/failover '{}'
expect_tls 200 0 operator GET /v1/vms/app
stop_resyncd

# Options: --tls-ca wants the server's certificate and key; an unreadable
# CA is refused.
tcp=(--socket "$TMP/run/x.sock" --state-dir "$TMP/state" --listen "127.0.0.1:$port")
expect_rc 1 resyncd "${tcp[@]}" --insecure-tcp --tls-ca "$pki/ca.pem"
grep -q -- '--tls-ca wants --tls-cert and --tls-key' "$TMP/err" || fail "$(cat "$TMP/err")"
expect_rc 1 resyncd "${tcp[@]}" --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-ca "$TMP/none.pem"
grep -q "cannot read $TMP/none.pem" "$TMP/err" || fail "$(cat "$TMP/err")"

# The config file's client lines, strictly.
bad_line() { # EXPECTED-LINE EXPECTED-MESSAGE CONTENT
	printf '%s\n' "$3" >"$TMP/bad.conf"
	expect_rc 1 resyncd --config "$TMP/bad.conf" --socket "$TMP/run/x.sock" --state-dir "$TMP/state"
	grep -qF "config $TMP/bad.conf:$1: $2" "$TMP/err" || fail "config <<$3>>: $(cat "$TMP/err")"
}
bad_line 2 'client role must be operator or reader' $'client "CN=a" operator\nclient "CN=b" admin'
bad_line 1 'client wants "SUBJECT" operator|reader' 'client CN=a operator'
bad_line 1 'client subject lacks its closing quote' 'client "CN=a operator'
bad_line 1 'client subject wants a DN such as "CN=name"' 'client "appliance1" operator'
bad_line 1 'client wants a space between subject and role' 'client "CN=a"operator'
bad_line 1 'client wants nothing after the role' 'client "CN=a" operator reader'
bad_line 3 'client subject named twice' $'# roles\nclient "CN=a" operator\nclient "CN=a" reader'
[ ! -e "$TMP/run/x.sock" ] || fail "resyncd served despite a bad config"
echo "TLS client certificates map to roles; others are refused"
