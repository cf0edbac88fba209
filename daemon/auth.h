/* SPDX-License-Identifier: MIT */
/*
 * Who is calling, and what they may do.  On the Unix socket the peer's
 * credentials (SO_PEERCRED) decide: root and members of the operator group
 * (--operator-group, else $RESYNC_OPERATOR_GROUP, as the store's trust
 * rules read it) are operators and may call every method; anyone else is a
 * reader (GET only), or refused with --refuse-readers.  On TCP with TLS
 * and --tls-ca the client certificate's subject decides (tls_auth.h);
 * other TCP callers are readers (or refused with --refuse-readers), as
 * they cannot be told apart.  A refused call
 * gets 403 with ReturnValue 32769.
 */
#ifndef RESYNCD_AUTH_H
#define RESYNCD_AUTH_H

#include <stdbool.h>
#include "daemon.h"

struct MHD_Connection;

/* A group name or number as a gid; -1 when NULL, empty or unknown. */
long rd_group_parse(const char *name);
/* Fills c for the connection's peer. */
void rd_caller_identify(const struct rd_daemon *d, struct MHD_Connection *conn, bool local,
			struct rd_caller *c);
/* Whether c may make a call with this HTTP method. */
bool rd_allowed(const struct rd_caller *c, const char *method);

#endif
