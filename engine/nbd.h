/* SPDX-License-Identifier: MIT */
/* NBD helpers shared by the NBD endpoint and resync_nbd_dirty_extents(). */
#ifndef RESYNC_NBD_H
#define RESYNC_NBD_H

#include <stdatomic.h>
#include <stdbool.h>
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

/* What ends a wait for the server besides its answer.  No libnbd call
 * waits by itself: every one is issued asynchronously and driven by
 * rs_nbd_wait(), so a server that stops answering and a cancel are both
 * noticed. */
struct rs_nbd_wait {
	unsigned timeout_ms;        /* this long without progress: -ETIMEDOUT */
	bool from_start;            /* the timeout counts from the start (a
				     * handshake), not from the last bytes read */
	const atomic_int *cancel;   /* set: -ECANCELED; NULL: not cancellable */
};

/* Drives h with poll() until done(h, arg) returns 1 (then 0) or a negative
 * errno (then that errno, the message from libnbd in msg), or the wait
 * ends: -ETIMEDOUT, -ECANCELED, -ENOTCONN (the connection is dead), each
 * with "what: ..." in msg.  Checks the cancel flag at least every 100 ms. */
int rs_nbd_wait(struct nbd_handle *h, int (*done)(struct nbd_handle *h, void *arg), void *arg,
		const struct rs_nbd_wait *w, const char *what, char *msg, size_t msglen);
/* rs_nbd_wait() for one command issued with nbd_aio_*: returns 0 or its
 * failure as rs_nbd_wait().  cookie -1 (the issue failed) is reported too,
 * a dead connection as -ENOTCONN. */
int rs_nbd_complete(struct nbd_handle *h, int64_t cookie, const struct rs_nbd_wait *w,
		    const char *what, char *msg, size_t msglen);
/* Closes h: a connected handle first sends NBD_CMD_DISC, waiting at most as
 * w allows for it to go out but never for the server to close (w NULL: the
 * socket is just closed, as after a failure, when the server may not read). */
void rs_nbd_close(struct nbd_handle *h, const struct rs_nbd_wait *w);

/* Calls fn for every maximal range of [off, off + len) whose flags in
 * context have any bit of mask set, asking the server in chunks.  Returns 0,
 * fn's error, -EPROTO when the server answers without progress or without
 * the context (msg not set), or a failed or ended wait (msg set as
 * rs_nbd_wait; w NULL: the I/O timeout, not cancellable). */
int rs_nbd_extents(struct nbd_handle *h, const char *context, uint32_t mask,
		   uint64_t off, uint64_t len, rs_extent_fn fn, void *arg,
		   const struct rs_nbd_wait *w, char *msg, size_t msglen);

/* How long connecting and the handshake may take before -ETIMEDOUT;
 * RESYNC_NBD_CONNECT_TIMEOUT_MS in the environment overrides it. */
#define RS_NBD_CONNECT_TIMEOUT_MS  30000u
/* How long a connection with requests in flight may go without any reply
 * (any bytes from the server) before the copy fails with -ETIMEDOUT;
 * RESYNC_NBD_IO_TIMEOUT_MS overrides. */
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
 * -ETIMEDOUT no answer in time, -ECANCELED cancel set (may be NULL).
 * Without blocking past the timeout: the handshake runs through libnbd's
 * asynchronous calls. */
int rs_nbd_connect(struct nbd_handle *h, const char *uri, const struct rs_nbd_tls *tls,
		   const atomic_int *cancel, char *msg, size_t msglen);
/* The wait for connecting: RS_NBD_CONNECT_TIMEOUT_MS (or the environment's)
 * from the start. */
struct rs_nbd_wait rs_nbd_connect_wait(const atomic_int *cancel);
/* The wait for a command: RS_NBD_IO_TIMEOUT_MS (or the environment's) since
 * the server last sent anything. */
struct rs_nbd_wait rs_nbd_io_wait(const atomic_int *cancel);

/* In option mode: lists the server's meta contexts through fn (libnbd's
 * context callback), then NBD_OPT_GO; each returns 0 or a failed wait as
 * rs_nbd_wait(). */
int rs_nbd_opt_list(struct nbd_handle *h, int (*fn)(void *arg, const char *name), void *arg,
		    const struct rs_nbd_wait *w, char *msg, size_t msglen);
int rs_nbd_opt_go(struct nbd_handle *h, const struct rs_nbd_wait *w, char *msg, size_t msglen);

/* After a failed libnbd call during connection: its message into msg and the
 * mapped negative errno (as rs_nbd_connect). */
int rs_nbd_error(char *msg, size_t msglen);

/* The meta contexts the server offers for the export of uri, as one
 * malloc'd ", "-separated string ("none" when it offers none), or NULL when
 * they cannot be listed. */
char *rs_nbd_list_contexts(const char *uri, const struct rs_nbd_tls *tls);

#endif
