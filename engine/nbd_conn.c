/* SPDX-License-Identifier: MIT */
/* Connecting an NBD handle: TLS from the options, libnbd's failures mapped to
 * the errno the control plane reports (access denied, not available, ...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	if (nbd_connect_uri(h, uri) == 0)
		return 0;

	return rs_nbd_error(msg, msglen);
}

int rs_nbd_error(char *msg, size_t msglen)
{
	int err = nbd_get_errno();
	const char *m = nbd_get_error();
	if (!m)
		m = "unknown error";
	/* "nbd_connect_uri: connect: ..." reads better without the wrapper's
	 * name: the inner call (connect, handshake, gnutls_*) is what failed. */
	static const char prefix[] = "nbd_connect_uri: ";
	if (!strncmp(m, prefix, sizeof prefix - 1))
		m += sizeof prefix - 1;
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
