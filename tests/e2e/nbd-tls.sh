#!/bin/bash
# NBD over TLS through the resync CLI: X.509 (a CA, a server and a client
# certificate made with certtool) and PSK, nbdkit with --tls=require.  The
# right credentials copy byte for byte; a client certificate from another CA
# and a wrong key are refused (access denied) before anything is written.
. "$(dirname "$0")/lib.bash"
for t in nbdkit certtool psktool; do
	command -v $t >/dev/null || skip "$t not installed"
done
stop_servers() {
	local p
	for p in "$TMP"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
	cleanup
}
trap stop_servers EXIT

# make_ca DIR: a CA key and self-signed certificate in DIR
make_ca() {
	mkdir -p "$1"
	certtool --generate-privkey --outfile "$1/ca-key.pem" 2>/dev/null
	printf 'cn = test ca\nca\ncert_signing_key\nexpiration_days = 2\n' >"$1/ca.info"
	certtool --generate-self-signed --load-privkey "$1/ca-key.pem" --template "$1/ca.info" \
		--outfile "$1/ca-cert.pem" 2>/dev/null
}
# make_cert CADIR OUTDIR ROLE(server|client)
make_cert() {
	mkdir -p "$2"
	cp "$1/ca-cert.pem" "$2/"
	certtool --generate-privkey --outfile "$2/$3-key.pem" 2>/dev/null
	if [ "$3" = server ]; then
		printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n'
	else
		printf 'cn = client\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n'
	fi >"$2/$3.info"
	certtool --generate-certificate --load-ca-certificate "$1/ca-cert.pem" \
		--load-ca-privkey "$1/ca-key.pem" --load-privkey "$2/$3-key.pem" \
		--template "$2/$3.info" --outfile "$2/$3-cert.pem" 2>/dev/null
}
make_ca "$TMP/ca"
make_ca "$TMP/rogue-ca"
make_cert "$TMP/ca" "$TMP/server" server
make_cert "$TMP/ca" "$TMP/client" client
make_cert "$TMP/rogue-ca" "$TMP/rogue" client
psktool -u alice -p "$TMP/keys.psk" >/dev/null
psktool -u alice -p "$TMP/wrong.psk" >/dev/null

head -c 4M /dev/urandom >"$TMP/src.img"
nbdkit -P "$TMP/x509.pid" -U "$TMP/x509.sock" --tls=require --tls-certificates="$TMP/server" \
	--tls-verify-peer file "$TMP/src.img"
nbdkit -P "$TMP/psk.pid" -U "$TMP/psk.sock" --tls=require --tls-psk="$TMP/keys.psk" \
	file "$TMP/src.img"
for _ in $(seq 100); do [ -S "$TMP/x509.sock" ] && [ -S "$TMP/psk.sock" ] && break; sleep 0.05; done

fresh() { head -c 4M /dev/zero >"$TMP/dst.img"; }

fresh
expect_rc 0 resync copy "nbds+unix:///?socket=$TMP/x509.sock&tls-hostname=localhost" \
	"$TMP/dst.img" --tls-certs "$TMP/client"
same "$TMP/src.img" "$TMP/dst.img"

fresh
expect_rc 1 resync copy "nbds+unix:///?socket=$TMP/x509.sock" "$TMP/dst.img" \
	--tls-certs "$TMP/rogue" --json
grep -q '"status":1,"errno":"EACCES",' "$TMP/out" ||
	fail "rogue certificate: $(cat "$TMP/out" "$TMP/err")"
cmp -s "$TMP/dst.img" <(head -c 4M /dev/zero) || fail "refused TLS wrote to the target"

fresh
expect_rc 0 resync copy "nbds+unix:///?socket=$TMP/psk.sock" "$TMP/dst.img" \
	--tls-psk "$TMP/keys.psk" --tls-username alice
same "$TMP/src.img" "$TMP/dst.img"

fresh
expect_rc 1 resync copy "nbds+unix:///?socket=$TMP/psk.sock" "$TMP/dst.img" \
	--tls-psk "$TMP/wrong.psk" --tls-username alice
grep -q "gnutls" "$TMP/err" || fail "wrong key: $(cat "$TMP/err")"
cmp -s "$TMP/dst.img" <(head -c 4M /dev/zero) || fail "refused TLS wrote to the target"

# The TLS files may also come in the URI.
fresh
expect_rc 0 resync copy "nbds+unix://alice@/?socket=$TMP/psk.sock&tls-psk-file=$TMP/keys.psk" \
	"$TMP/dst.img"
same "$TMP/src.img" "$TMP/dst.img"
echo ok
