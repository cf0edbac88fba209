/* SPDX-License-Identifier: MIT */
/*
 * Whether an endpoint name is an NBD URI: the schemes libnbd's
 * nbd_connect_uri() accepts, with or without TLS (nbds: TLS required):
 *
 *   nbd://  nbds://  nbd+unix://  nbds+unix://  nbd+vsock://  nbds+vsock://
 *
 * Anything else is a path (a file or a block device).  Only the scheme is
 * looked at; libnbd checks the rest when it connects.
 */
#ifndef RESYNC_COMMON_NBD_URI_H
#define RESYNC_COMMON_NBD_URI_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when name (may be NULL) starts with one of the NBD schemes above
 * (lower case, as libnbd spells them). */
bool rc_is_nbd_uri(const char *name);

#ifdef __cplusplus
}
#endif

#endif
