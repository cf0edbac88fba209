/* SPDX-License-Identifier: MIT */
/*
 * With --tls-ca, TCP callers are authenticated by their TLS client
 * certificate (without it, TLS only authenticates the server and TCP
 * callers are anonymous readers, auth.h): the
 * certificate must chain to the CA of --tls-ca (checked in the handshake,
 * so a client without one, or with one from another CA, never gets to send
 * a request), and its subject is looked up in the configuration file's
 * client lines:
 *
 *     client "CN=appliance1,O=Example" operator
 *     client "CN=dashboard" reader
 *
 * A subject is matched against the certificate's whole distinguished name
 * as RFC 4514 writes it (most specific RDN first, as `certtool -i` shows
 * it), or, when it is a single "CN=..." with no other attribute, against
 * the common name alone.  A whole-DN line wins over a CN line.  A
 * certificate no line names is refused (403, ReturnValue 32769), as one
 * that does not verify.
 */
#ifndef RESYNCD_TLS_AUTH_H
#define RESYNCD_TLS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>
#include "daemon.h"

/* One configuration line after "client": a quoted subject and a role.
 * Adds it to c's client list: 0, or 1 with *why the reason (a static
 * string), which main.c's config reader prints with the file and line. */
int rd_tls_client_line(struct rd_config *c, const char *rest, const char **why);
/* Frees c's client list. */
void rd_tls_clients_free(struct rd_config *c);
/* For MHD_OPTION_NOTIFY_CONNECTION: asks a new TLS connection for a client
 * certificate and makes the handshake fail without a trusted one. */
void rd_tls_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe);
/* Fills c->subject and c->role for a TCP connection with TLS client
 * certificates; false when the connection has no TLS session or the
 * daemon no --tls-ca. */
bool rd_tls_identify(const struct rd_daemon *d, struct MHD_Connection *conn, struct rd_caller *c);

#endif
