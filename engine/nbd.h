/* SPDX-License-Identifier: MIT */
/* NBD helpers shared by the NBD endpoint and the bitmap tool. */
#ifndef RESYNC_NBD_H
#define RESYNC_NBD_H

#include <stddef.h>
#include <stdint.h>
#include <libnbd.h>
#include "endpoint.h"

#define RS_NBD_ALLOCATION_CONTEXT  "base:allocation"
#define RS_NBD_DIRTY_PREFIX        "qemu:dirty-bitmap:"
/* qemu's dirty bitmap context flag for a dirty extent. */
#define RS_NBD_STATE_DIRTY         1u
/* Block status is asked for in pieces so no single reply describes the whole
 * disk (servers cap replies, and a huge one would stall the connection). */
#define RS_NBD_STATUS_CHUNK        (1ull << 30)

/* The context name for a dirty bitmap: NAME becomes qemu:dirty-bitmap:NAME;
 * a name that already holds a ':' is taken as a full context name.
 * Returns a malloc'd string or NULL on ENOMEM. */
char *rs_nbd_dirty_context(const char *name);

/* Calls fn for every maximal range of [off, off + len) whose flags in
 * context have any bit of mask set, asking the server in chunks.  Returns 0,
 * fn's error, -EPROTO when the server answers without progress or without
 * the context, or the negative errno of a failed nbd_block_status (its
 * message then in nbd_get_error()). */
int rs_nbd_extents(struct nbd_handle *h, const char *context, uint32_t mask,
		   uint64_t off, uint64_t len, rs_extent_fn fn, void *arg);

/* How long connecting and the handshake may take before -ETIMEDOUT;
 * RESYNC_NBD_CONNECT_TIMEOUT_MS in the environment overrides it. */
#define RS_NBD_CONNECT_TIMEOUT_MS  30000u
/* How long a connection with requests in flight may go without any reply
 * before the copy fails with -ETIMEDOUT; RESYNC_NBD_IO_TIMEOUT_MS overrides. */
#define RS_NBD_IO_TIMEOUT_MS       60000u

/* A positive number of milliseconds from the environment variable name, or
 * def when it is unset or not such a number. */
unsigned rs_nbd_env_ms(const char *name, unsigned def);

/* TLS credentials from the handle's options; each may be NULL. */
struct rs_nbd_tls {
	const char *certs;   /* X.509 directory */
	const char *psk;     /* PSK file */
	const char *user;    /* PSK username (default: the login name) */
};

/* Applies tls to h and connects it to uri (whose scheme decides whether TLS
 * is required).  Returns 0, or a negative errno with a message in msg:
 * -EINVAL malformed URI, -EACCES TLS refused or failed, -ENOENT missing
 * socket or export, -ECONNREFUSED (or the connect errno) unreachable,
 * -ETIMEDOUT no answer in time.  Without blocking past the timeout: the
 * handshake runs through libnbd's asynchronous calls. */
int rs_nbd_connect(struct nbd_handle *h, const char *uri, const struct rs_nbd_tls *tls,
		   char *msg, size_t msglen);

/* After a failed libnbd call during connection: its message into msg and the
 * mapped negative errno (as rs_nbd_connect). */
int rs_nbd_error(char *msg, size_t msglen);

/* The meta contexts the server offers for the export of uri, as one
 * malloc'd ", "-separated string ("none" when it offers none), or NULL when
 * they cannot be listed. */
char *rs_nbd_list_contexts(const char *uri, const struct rs_nbd_tls *tls);

#endif
