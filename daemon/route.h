/* SPDX-License-Identifier: MIT */
/*
 * The routing table of the API (doc/api.md): path and method to handler,
 * after the caller's role is checked (403, 32769) and a VM or job named in
 * the path is found (404).  Unknown paths give 404, a known path with
 * another method 405 with Allow.
 */
#ifndef RESYNCD_ROUTE_H
#define RESYNCD_ROUTE_H

#include "daemon.h"

void rd_route(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r);

#endif
