/* SPDX-License-Identifier: MIT */
/* Connecting an NBD handle: TLS from the options, libnbd's failures mapped to
 * the errno the control plane reports (access denied, not available, ...). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Drives the handshake with poll() until the handle is ready (or, in option
 * mode, negotiating).  Not the copy path: nothing else runs yet. */
static int wait_connected(struct nbd_handle *h, char *msg, size_t msglen)
{
	/* A host that drops packets or a server that accepts and then says
	 * nothing must not hold a failback forever. */
	unsigned timeout = rs_nbd_env_ms("RESYNC_NBD_CONNECT_TIMEOUT_MS", RS_NBD_CONNECT_TIMEOUT_MS);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!nbd_aio_is_ready(h) && !nbd_aio_is_negotiating(h)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t spent = (now.tv_sec - start.tv_sec) * 1000 +
				(now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= timeout) {
			snprintf(msg, msglen, "connect: no answer from the server within %u ms",
				 timeout);
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
		int n = poll(&p, 1, (int)(timeout - spent));
		if (n < 0 && errno != EINTR) {
			snprintf(msg, msglen, "poll: %s", strerror(errno));
			return -errno;
		}
		int ret = 0;
		if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (dir & LIBNBD_AIO_DIRECTION_READ))
			ret = nbd_aio_notify_read(h);
		else if (n > 0 && (p.revents & (POLLOUT | POLLHUP | POLLERR)) &&
			 (dir & LIBNBD_AIO_DIRECTION_WRITE))
			ret = nbd_aio_notify_write(h);
		if (ret == -1)
			return rs_nbd_error(msg, msglen);
	}
	return 0;
}

int rs_nbd_connect(struct nbd_handle *h, const char *uri, const struct rs_nbd_tls *tls,
		   char *msg, size_t msglen)
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
	return wait_connected(h, msg, msglen);
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

char *rs_nbd_list_contexts(const char *uri, const struct rs_nbd_tls *tls)
{
	struct nbd_handle *h = nbd_create();
	struct ctx_list l = { 0 };
	char msg[256];
	if (!h)
		return NULL;
	/* Option mode stops before NBD_OPT_GO, where the server still answers
	 * NBD_OPT_LIST_META_CONTEXT; with no query it lists every context. */
	if (nbd_set_opt_mode(h, true) == -1 || rs_nbd_connect(h, uri, tls, msg, sizeof msg) ||
	    nbd_opt_list_meta_context(h, (nbd_context_callback){ .callback = add_context,
								 .user_data = &l }) == -1 ||
	    l.err) {
		free(l.s);
		nbd_close(h);
		return NULL;
	}
	nbd_opt_abort(h);
	nbd_close(h);
	return l.s ? l.s : strdup("none");
}
