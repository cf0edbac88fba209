/* SPDX-License-Identifier: MIT */
/* Connecting an NBD handle: TLS from the options, libnbd's failures mapped to
 * the errno the control plane reports (access denied, not available, ...). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "nbd.h"

/* libnbd reports TLS failures with errno ENOTSUP, EINVAL or none at all, so
 * its message is the only way to tell them from other failures. */
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

unsigned rs_nbd_env_ms(const char *name, unsigned def)
{
	const char *env = getenv(name);
	char *end;
	unsigned long v = env ? strtoul(env, &end, 10) : 0;
	return env && *env && !*end && v > 0 && v <= UINT_MAX ? (unsigned)v : def;
}

/* How often a wait looks at the cancel flag: a cancel has no descriptor to
 * poll, and 100 ms is prompt for a person or a control plane. */
#define WAIT_TICK_MS 100

struct rs_nbd_wait rs_nbd_connect_wait(const atomic_int *cancel)
{
	return (struct rs_nbd_wait){
		.timeout_ms = rs_nbd_env_ms("RESYNC_NBD_CONNECT_TIMEOUT_MS", RS_NBD_CONNECT_TIMEOUT_MS),
		.from_start = true,
		.cancel = cancel,
	};
}

struct rs_nbd_wait rs_nbd_io_wait(const atomic_int *cancel)
{
	return (struct rs_nbd_wait){
		.timeout_ms = rs_nbd_env_ms("RESYNC_NBD_IO_TIMEOUT_MS", RS_NBD_IO_TIMEOUT_MS),
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
	int err = rs_nbd_error(msg, msglen);
	return err == -EACCES ? err : d;
}

int rs_nbd_wait(struct nbd_handle *h, int (*done)(struct nbd_handle *h, void *arg), void *arg,
		const struct rs_nbd_wait *w, const char *what, char *msg, size_t msglen)
{
	int64_t last = rc_now_ms();
	for (;;) {
		int d = done(h, arg);
		if (d)
			return finished(d, msg, msglen);
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return dead(what, msg, msglen);
		if (w->cancel && atomic_load(w->cancel))
			return ended(-ECANCELED, what, "cancelled", msg, msglen);
		int64_t spent = rc_now_ms() - last;
		if (spent >= w->timeout_ms) {
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
			return rs_nbd_error(msg, msglen);
		int64_t left = w->timeout_ms - spent;
		int n = poll(&p, 1, (int)(left < WAIT_TICK_MS ? left : WAIT_TICK_MS));
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
				last = rc_now_ms();
			ret = nbd_aio_notify_read(h);
		} else if (n > 0 && (p.revents & (POLLOUT | POLLHUP | POLLERR)) &&
			   (dir & LIBNBD_AIO_DIRECTION_WRITE)) {
			ret = nbd_aio_notify_write(h);
		}
		if (ret == -1) {
			/* A command the failure ended says more than the
			 * failure itself. */
			d = done(h, arg);
			return d ? finished(d, msg, msglen) : rs_nbd_error(msg, msglen);
		}
	}
}

static int is_connected(struct nbd_handle *h, void *arg)
{
	(void)arg;
	return nbd_aio_is_ready(h) || nbd_aio_is_negotiating(h);
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

int rs_nbd_complete(struct nbd_handle *h, int64_t cookie, const struct rs_nbd_wait *w,
		    const char *what, char *msg, size_t msglen)
{
	if (cookie == -1) {
		/* Issuing on a dead handle fails with EINVAL ("invalid state"):
		 * what happened is that the server went away. */
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return dead(what, msg, msglen);
		return rs_nbd_error(msg, msglen);
	}
	struct command c = { cookie };
	return rs_nbd_wait(h, command_done, &c, w, what, msg, msglen);
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
void rs_nbd_close(struct nbd_handle *h, const struct rs_nbd_wait *w)
{
	char msg[128];
	if (h && w && nbd_aio_is_ready(h) && nbd_aio_disconnect(h, 0) == 0)
		rs_nbd_wait(h, is_sent, NULL, w, "disconnect", msg, sizeof msg);
	nbd_close(h);
}

int rs_nbd_connect(struct nbd_handle *h, const char *uri, const struct rs_nbd_tls *tls,
		   const atomic_int *cancel, char *msg, size_t msglen)
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
		return rs_nbd_error(msg, msglen);
	/* A host that drops packets or a server that accepts and then says
	 * nothing must not hold a failback forever. */
	struct rs_nbd_wait w = rs_nbd_connect_wait(cancel);
	return rs_nbd_wait(h, is_connected, NULL, &w, "connect", msg, msglen);
}

int rs_nbd_error(char *msg, size_t msglen)
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

struct ctx_list {
	char *s;
	size_t len;
	int err;
};

static int add_context(void *arg, const char *name)
{
	struct ctx_list *l = arg;
	size_t n = strlen(name);
	char *s = realloc(l->s, l->len + n + 3);
	if (!s) {
		l->err = -ENOMEM;
		return -1;
	}
	if (l->len) {
		memcpy(s + l->len, ", ", 2);
		l->len += 2;
	}
	memcpy(s + l->len, name, n + 1);
	l->len += n;
	l->s = s;
	return 0;
}

struct option {
	bool done;
	int err;
};

static int option_cb(void *user_data, int *error)
{
	struct option *o = user_data;
	o->done = true;
	o->err = *error;
	return 1;
}

static int option_done(struct nbd_handle *h, void *arg)
{
	struct option *o = arg;
	(void)h;
	if (!o->done)
		return 0;
	return o->err ? -o->err : 1;
}

int rs_nbd_opt_list(struct nbd_handle *h, int (*fn)(void *arg, const char *name), void *arg,
		    const struct rs_nbd_wait *w, char *msg, size_t msglen)
{
	struct option o = { 0 };
	if (nbd_aio_opt_list_meta_context(h, (nbd_context_callback){ .callback = fn, .user_data = arg },
					  (nbd_completion_callback){ .callback = option_cb,
								     .user_data = &o }) == -1)
		return rs_nbd_error(msg, msglen);
	return rs_nbd_wait(h, option_done, &o, w, "list contexts", msg, msglen);
}

int rs_nbd_opt_go(struct nbd_handle *h, const struct rs_nbd_wait *w, char *msg, size_t msglen)
{
	struct option o = { 0 };
	if (nbd_aio_opt_go(h, (nbd_completion_callback){ .callback = option_cb,
							 .user_data = &o }) == -1)
		return rs_nbd_error(msg, msglen);
	return rs_nbd_wait(h, option_done, &o, w, "handshake", msg, msglen);
}

char *rs_nbd_list_contexts(const char *uri, const struct rs_nbd_tls *tls)
{
	struct nbd_handle *h = nbd_create();
	struct ctx_list l = { 0 };
	struct rs_nbd_wait w = rs_nbd_connect_wait(NULL);
	char msg[256];
	if (!h)
		return NULL;
	/* Option mode stops before NBD_OPT_GO, where the server still answers
	 * NBD_OPT_LIST_META_CONTEXT; with no query it lists every context. */
	if (nbd_set_opt_mode(h, true) == -1 || rs_nbd_connect(h, uri, tls, NULL, msg, sizeof msg) ||
	    rs_nbd_opt_list(h, add_context, &l, &w, msg, sizeof msg) || l.err) {
		free(l.s);
		nbd_close(h);
		return NULL;
	}
	nbd_close(h);
	return l.s ? l.s : strdup("none");
}
