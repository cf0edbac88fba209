/* SPDX-License-Identifier: MIT */
/*
 * Connecting a libnbd handle, with TLS, without ever blocking past a bound:
 * the one connect of the engine's NBD endpoint, resync_nbd_dirty_extents()
 * and resyncctl's endpoint checks.  No libnbd call here waits by itself:
 * each is issued asynchronously and driven by rc_nbd_drive(), so a server
 * that stops answering and a cancel are both noticed.
 *
 * One default bounds connecting (TCP or socket, TLS and the NBD handshake):
 * RC_NBD_CONNECT_TIMEOUT_MS; RESYNC_NBD_CONNECT_TIMEOUT_MS in the
 * environment overrides it, and an explicit setting
 * (resync_set_nbd_connect_timeout(), resyncctl's "nbd_connect_timeout_ms")
 * overrides both.
 *
 * libnbd reports TLS failures with errno ENOTSUP, EINVAL or none at all;
 * they are told apart by libnbd's message and returned as -EACCES.
 */
#ifndef RESYNC_COMMON_NBD_CONNECT_H
#define RESYNC_COMMON_NBD_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libnbd.h>

/* The cancel flag is the engine's atomic_int; C++ tests pass std::atomic_int,
 * which has the same representation. */
#ifdef __cplusplus
#include <atomic>
typedef std::atomic_int rc_atomic_int;
extern "C" {
#else
#include <stdatomic.h>
typedef atomic_int rc_atomic_int;
#endif

#define RC_NBD_CONNECT_TIMEOUT_MS 30000u

/* What ends a wait for the server besides its answer. */
struct rc_nbd_wait {
	unsigned timeout_ms;         /* this long without progress: -ETIMEDOUT */
	bool from_start;             /* the timeout counts from the start (a
				      * handshake), not from the last bytes read */
	const rc_atomic_int *cancel; /* set: -ECANCELED; NULL: not cancellable */
};

/* A positive number of milliseconds from the environment variable name, or
 * def when it is unset or not such a number. */
unsigned rc_env_ms(const char *name, unsigned def);

/* The wait for connecting: timeout_ms from the start, or when it is 0
 * RESYNC_NBD_CONNECT_TIMEOUT_MS from the environment, else the default. */
struct rc_nbd_wait rc_nbd_connect_wait(unsigned timeout_ms, const rc_atomic_int *cancel);

/* Drives h with poll() until done(h, arg) returns 1 (then 0) or a negative
 * errno (then that errno, the message from libnbd in msg), or the wait
 * ends: -ETIMEDOUT, -ECANCELED, -ENOTCONN (the connection is dead), each
 * with "what: ..." in msg.  Checks the cancel flag at least every 100 ms. */
int rc_nbd_drive(struct nbd_handle *h, int (*done)(struct nbd_handle *h, void *arg), void *arg,
		 const struct rc_nbd_wait *w, const char *what, char *msg, size_t msglen);
/* rc_nbd_drive() for one command issued with nbd_aio_*: returns 0 or its
 * failure as rc_nbd_drive().  cookie -1 (the issue failed) is reported too,
 * a dead connection as -ENOTCONN. */
int rc_nbd_complete(struct nbd_handle *h, int64_t cookie, const struct rc_nbd_wait *w,
		    const char *what, char *msg, size_t msglen);

/* TLS credentials; each may be NULL. */
struct rc_nbd_tls {
	const char *certs; /* X.509 directory */
	const char *psk;   /* PSK file */
	const char *user;  /* PSK username (default: the login name) */
};

/* Applies tls (may be NULL) to h and connects it to uri, whose scheme decides
 * whether TLS is required, within w (rc_nbd_connect_wait()).  Returns 0 (the
 * handle ready, or negotiating in option mode) or a negative errno with a
 * message in msg: -EINVAL malformed URI, -EACCES TLS refused or failed,
 * -ENOENT missing socket or export, -ECONNREFUSED (or the connect errno)
 * unreachable, -ETIMEDOUT no answer in time, -ECANCELED. */
int rc_nbd_connect(struct nbd_handle *h, const char *uri, const struct rc_nbd_tls *tls,
		   const struct rc_nbd_wait *w, char *msg, size_t msglen);

/* Closes h (may be NULL): a connected handle first sends NBD_CMD_DISC,
 * waiting at most as w allows for it to go out but never for the server to
 * close (w NULL: the socket is just closed, as after a failure, when the
 * server may not read). */
void rc_nbd_close(struct nbd_handle *h, const struct rc_nbd_wait *w);

/* After a failed libnbd call: its message into msg and the mapped negative
 * errno (-EACCES for TLS failures, as rc_nbd_connect()). */
int rc_nbd_error(char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif

#endif
