/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 server: one libmicrohttpd daemon per listening socket, a
 * thread pool polling with epoll, the request body collected up to the
 * limit (413 beyond it), idle connections closed after the timeout, at
 * most conn_limit connections, every method call logged with its caller.
 */
#ifndef RESYNCD_HTTP_H
#define RESYNCD_HTTP_H

#include <stdbool.h>
#include "daemon.h"

struct MHD_Daemon;

/* Serves fd (listening); local: a Unix socket (peer credentials apply).
 * tls_cert/tls_key: PEM text for TLS, NULL for none.  NULL on failure. */
struct MHD_Daemon *rd_http_start(struct rd_daemon *d, int fd, bool local, const char *tls_cert,
				 const char *tls_key);

#endif
