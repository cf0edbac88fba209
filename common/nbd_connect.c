/* SPDX-License-Identifier: MIT */
/* Bounded, asynchronous NBD connect, wait and close of nbd_connect.h;
 * libnbd's failures mapped to the errno callers report (access denied, not
 * available, timed out). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "nbd_connect.h"

/* How often a wait looks at the cancel flag: a cancel has no descriptor to
 * poll, and 100 ms is prompt for a person or a control plane. */
#define WAIT_TICK_MS 100

/* libnbd's message is the only way to tell a TLS failure from others. */
static int is_tls_failure(const char *m)
{
	return strstr(m, "TLS") || strstr(m, "gnutls") || strstr(m, "PSK") ||
	       strstr(m, "certificate");
}

static int tls_error(const char *call, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "%s: %s", call, nbd_get_error());
	return -EACCES;
}

unsigned rc_env_ms(const char *name, unsigned def)
{
	const char *env = getenv(name);
	char *end;
	unsigned long v = env ? strtoul(env, &end, 10) : 0;
	return env && *env && !*end && v > 0 && v <= UINT_MAX ? (unsigned)v : def;
}

struct rc_nbd_wait rc_nbd_connect_wait(unsigned timeout_ms, const rc_atomic_int *cancel)
{
	return (struct rc_nbd_wait){
		.timeout_ms = timeout_ms ? timeout_ms :
					   rc_env_ms("RESYNC_NBD_CONNECT_TIMEOUT_MS",
						     RC_NBD_CONNECT_TIMEOUT_MS),
		.from_start = true,
		.cancel = cancel,
	};
}

static int ended(int err, const char *what, const char *why, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "%s: %s", what, why);
	return err;
}

static int dead(const char *what, char *msg, size_t msglen)
{
	return ended(-ENOTCONN, what, "the server closed the connection", msg, msglen);
}

/* done() said 1 or a negative errno. */
static int finished(int d, char *msg, size_t msglen)
{
	if (d > 0)
		return 0;
	/* The message is libnbd's; TLS failures map to EACCES. */
	int err = rc_nbd_error(msg, msglen);
	return err == -EACCES ? err : d;
}

int rc_nbd_drive(struct nbd_handle *h, int (*done)(struct nbd_handle *h, void *arg), void *arg,
		 const struct rc_nbd_wait *w, const char *what, char *msg, size_t msglen)
{
	/* In ns: whole milliseconds read at both ends could end the wait up
	 * to 1 ms before timeout_ms has passed. */
	uint64_t last = rc_now_ns(), limit = w->timeout_ms * 1000000ull;
	for (;;) {
		int d = done(h, arg);
		if (d)
			return finished(d, msg, msglen);
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return dead(what, msg, msglen);
		if (w->cancel && atomic_load(w->cancel))
			return ended(-ECANCELED, what, "cancelled", msg, msglen);
		uint64_t spent = rc_now_ns() - last;
		if (spent >= limit) {
			snprintf(msg, msglen, "%s: no answer from the server within %u ms", what,
				 w->timeout_ms);
			return -ETIMEDOUT;
		}
		unsigned dir = nbd_aio_get_direction(h);
		struct pollfd p = {
			.fd = nbd_aio_get_fd(h),
			.events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
					  ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0)),
		};
		if (p.fd < 0)
			return rc_nbd_error(msg, msglen);
		uint64_t left_ms = (limit - spent + 999999) / 1000000;
		int n = poll(&p, 1, (int)(left_ms < WAIT_TICK_MS ? left_ms : WAIT_TICK_MS));
		if (n < 0 && errno != EINTR) {
			int err = errno;
			snprintf(msg, msglen, "%s: poll: %s", what, strerror(err));
			return -err;
		}
		int ret = 0;
		if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (dir & LIBNBD_AIO_DIRECTION_READ)) {
			/* Any bytes from the server are progress: a long reply
			 * arriving slowly is not a silent server. */
			if (!w->from_start)
				last = rc_now_ns();
			ret = nbd_aio_notify_read(h);
		} else if (n > 0 && (p.revents & (POLLOUT | POLLHUP | POLLERR)) &&
			   (dir & LIBNBD_AIO_DIRECTION_WRITE)) {
			ret = nbd_aio_notify_write(h);
		}
		if (ret == -1) {
			/* A command the failure ended says more than the
			 * failure itself. */
			d = done(h, arg);
			return d ? finished(d, msg, msglen) : rc_nbd_error(msg, msglen);
		}
	}
}

struct command {
	int64_t cookie;
};

static int command_done(struct nbd_handle *h, void *arg)
{
	struct command *c = arg;
	int r = nbd_aio_command_completed(h, (uint64_t)c->cookie);
	if (r == -1) {
		int err = nbd_get_errno();
		return err ? -err : -EIO;
	}
	return r;
}

int rc_nbd_complete(struct nbd_handle *h, int64_t cookie, const struct rc_nbd_wait *w,
		    const char *what, char *msg, size_t msglen)
{
	if (cookie == -1) {
		/* Issuing on a dead handle fails with EINVAL ("invalid state"):
		 * what happened is that the server went away. */
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return dead(what, msg, msglen);
		return rc_nbd_error(msg, msglen);
	}
	struct command c = { cookie };
	return rc_nbd_drive(h, command_done, &c, w, what, msg, msglen);
}

/* NBD_CMD_DISC is on its way: nothing left for libnbd to write. */
static int is_sent(struct nbd_handle *h, void *arg)
{
	(void)arg;
	return nbd_aio_is_closed(h) || nbd_aio_is_dead(h) ||
	       !(nbd_aio_get_direction(h) & LIBNBD_AIO_DIRECTION_WRITE);
}

/* nbd_shutdown() would also wait, without a bound, for the server to close
 * its end, which a stopped server (or one slow to close) never does; nothing
 * of ours depends on it once the request to disconnect is sent. */
void rc_nbd_close(struct nbd_handle *h, const struct rc_nbd_wait *w)
{
	char msg[128];
	if (h && w && nbd_aio_is_ready(h) && nbd_aio_disconnect(h, 0) == 0)
		rc_nbd_drive(h, is_sent, NULL, w, "disconnect", msg, sizeof msg);
	nbd_close(h);
}

static int is_connected(struct nbd_handle *h, void *arg)
{
	(void)arg;
	return nbd_aio_is_ready(h) || nbd_aio_is_negotiating(h);
}

int rc_nbd_connect(struct nbd_handle *h, const char *uri, const struct rc_nbd_tls *tls,
		   const struct rc_nbd_wait *w, char *msg, size_t msglen)
{
	if (tls && tls->certs && nbd_set_tls_certificates(h, tls->certs) == -1)
		return tls_error("nbd_set_tls_certificates", msg, msglen);
	if (tls && tls->psk && nbd_set_tls_psk_file(h, tls->psk) == -1)
		return tls_error("nbd_set_tls_psk_file", msg, msglen);
	if (tls && tls->user && nbd_set_tls_username(h, tls->user) == -1)
		return tls_error("nbd_set_tls_username", msg, msglen);
	/* The URI may name the TLS files itself (?tls-psk-file=...); whoever
	 * supplies the URI can name files as endpoints anyway. */
	if (nbd_set_uri_allow_local_file(h, true) == -1) {
		snprintf(msg, msglen, "nbd_set_uri_allow_local_file: %s", nbd_get_error());
		return -EINVAL;
	}
	if (nbd_aio_connect_uri(h, uri) == -1)
		return rc_nbd_error(msg, msglen);
	/* A host that drops packets or a server that accepts and then says
	 * nothing must not hold a failback forever. */
	return rc_nbd_drive(h, is_connected, NULL, w, "connect", msg, msglen);
}

int rc_nbd_error(char *msg, size_t msglen)
{
	int err = nbd_get_errno();
	const char *m = nbd_get_error();
	if (!m)
		m = "unknown error";
	/* "nbd_aio_notify_read: handshake: ..." reads better without the outer
	 * call's name: the inner one (connect, handshake, gnutls_*) is what
	 * failed. */
	size_t outer = strspn(m, "abcdefghijklmnopqrstuvwxyz_");
	if (!strncmp(m, "nbd_", 4) && !strncmp(m + outer, ": ", 2) && strchr(m + outer + 2, ':'))
		m += outer + 2;
	snprintf(msg, msglen, "%s", m);
	if (is_tls_failure(m))
		return -EACCES;
	return err ? -err : -EIO;
}
