/* SPDX-License-Identifier: MIT */
/* NBD helpers shared by the NBD endpoint and resync_nbd_dirty_extents();
 * connecting itself is common/nbd_connect.h. */
#ifndef RESYNC_NBD_H
#define RESYNC_NBD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libnbd.h>
#include "endpoint.h"
#include "nbd_connect.h"

#define RS_NBD_ALLOCATION_CONTEXT "base:allocation"
#define RS_NBD_DIRTY_PREFIX "qemu:dirty-bitmap:"
/* qemu's dirty bitmap context flag for a dirty extent. */
#define RS_NBD_STATE_DIRTY 1u
/* Block status is asked for in pieces so no single reply describes the whole
 * disk (servers cap replies, and a huge one would stall the connection). */
#define RS_NBD_STATUS_CHUNK (1ull << 30)

/* The context name for a dirty bitmap: NAME becomes qemu:dirty-bitmap:NAME;
 * a name that already holds a ':' is taken as a full context name.
 * Returns a malloc'd string or NULL on ENOMEM. */
char *rs_nbd_dirty_context(const char *name);

/* Calls fn for every maximal range of [off, off + len) whose flags in
 * context have any bit of mask set, asking the server in chunks.  Returns 0,
 * fn's error, -EPROTO when the server answers without progress or without
 * the context (msg not set), or a failed or ended wait (msg set as
 * rc_nbd_drive(); w NULL: the I/O timeout, not cancellable). */
int rs_nbd_extents(struct nbd_handle *h, const char *context, uint32_t mask, uint64_t off,
		   uint64_t len, rs_extent_fn fn, void *arg, const struct rc_nbd_wait *w, char *msg,
		   size_t msglen);

/* How long a connection with requests in flight may go without any reply
 * (any bytes from the server) before the copy fails with -ETIMEDOUT;
 * RESYNC_NBD_IO_TIMEOUT_MS overrides. */
#define RS_NBD_IO_TIMEOUT_MS 60000u

/* The wait for a command: RS_NBD_IO_TIMEOUT_MS (or the environment's) since
 * the server last sent anything. */
struct rc_nbd_wait rs_nbd_io_wait(const atomic_int *cancel);

/* In option mode: lists the server's meta contexts through fn (libnbd's
 * context callback), then NBD_OPT_GO; each returns 0 or a failed wait as
 * rc_nbd_drive(). */
int rs_nbd_opt_list(struct nbd_handle *h, int (*fn)(void *arg, const char *name), void *arg,
		    const struct rc_nbd_wait *w, char *msg, size_t msglen);
int rs_nbd_opt_go(struct nbd_handle *h, const struct rc_nbd_wait *w, char *msg, size_t msglen);

/* The meta contexts the server offers for the export of uri, as one
 * malloc'd ", "-separated string ("none" when it offers none), or NULL when
 * they cannot be listed; connecting and listing each within w. */
char *rs_nbd_list_contexts(const char *uri, const struct rc_nbd_tls *tls,
			   const struct rc_nbd_wait *w);

#endif
