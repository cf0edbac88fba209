/* SPDX-License-Identifier: MIT */
/*
 * The TLS sessions' client-certificate check in the handshake (tls_auth.h),
 * apart from tls_auth.c because it logs: the in-process tests link the
 * role map without the daemon's log.
 */
#include <netdb.h>
#include <gnutls/gnutls.h>
#include "tls_auth.h"

/* In the handshake, once the client's certificate message is in: anything
 * but a certificate that verifies against the trusted CA
 * (MHD_OPTION_HTTPS_MEM_TRUST) ends it, logged with the peer's address and
 * gnutls's reason (libmicrohttpd's own message does not say why). */
static int verify(gnutls_session_t s)
{
	struct MHD_Connection *conn = gnutls_session_get_ptr(s);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
	gnutls_datum_t why = { 0 };
	unsigned status = 0, n = 0;
	int err = gnutls_certificate_verify_peers2(s, &status);

	if (!err && !status && gnutls_certificate_get_peers(s, &n) && n)
		return 0;
	if (ci && ci->client_addr)
		getnameinfo(ci->client_addr,
			    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
								     sizeof(struct sockaddr_in),
			    host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	if (!err && status &&
	    !gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0)) {
		rd_log("tls: refused %s port %s: %s", host, port, (const char *)why.data);
		gnutls_free(why.data);
	} else {
		rd_log("tls: refused %s port %s: %s", host, port,
		       err ? gnutls_strerror(err) : "no client certificate");
	}
	return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
}

void rd_tls_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;

	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!s)
		return;
	/* libmicrohttpd requests a certificate and checks none: verify()
	 * ends the handshake for a client without a trusted one, before a
	 * request is read.  (REQUEST, not REQUIRE: with REQUIRE gnutls fails
	 * a client without a certificate before verify() could log it.) */
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
	gnutls_session_set_ptr(s, conn);
	gnutls_session_set_verify_function(s, verify);
}
