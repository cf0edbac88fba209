/* SPDX-License-Identifier: MIT */
/* The engine's NBD conversations beyond connecting (common/nbd_connect.c):
 * the I/O wait, option-mode listing and NBD_OPT_GO, and the list of meta
 * contexts a server offers, for messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nbd.h"

struct rc_nbd_wait rs_nbd_io_wait(const atomic_int *cancel)
{
	return (struct rc_nbd_wait){
		.timeout_ms = rc_env_ms("RESYNC_NBD_IO_TIMEOUT_MS", RS_NBD_IO_TIMEOUT_MS),
		.cancel = cancel,
	};
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
		    const struct rc_nbd_wait *w, char *msg, size_t msglen)
{
	struct option o = { 0 };
	if (nbd_aio_opt_list_meta_context(h,
					  (nbd_context_callback){ .callback = fn,
								  .user_data = arg },
					  (nbd_completion_callback){ .callback = option_cb,
								     .user_data = &o }) == -1)
		return rc_nbd_error(msg, msglen);
	return rc_nbd_drive(h, option_done, &o, w, "list contexts", msg, msglen);
}

int rs_nbd_opt_go(struct nbd_handle *h, const struct rc_nbd_wait *w, char *msg, size_t msglen)
{
	struct option o = { 0 };
	if (nbd_aio_opt_go(h, (nbd_completion_callback){ .callback = option_cb,
							 .user_data = &o }) == -1)
		return rc_nbd_error(msg, msglen);
	return rc_nbd_drive(h, option_done, &o, w, "handshake", msg, msglen);
}

char *rs_nbd_list_contexts(const char *uri, const struct rc_nbd_tls *tls,
			   const struct rc_nbd_wait *w)
{
	struct nbd_handle *h = nbd_create();
	struct ctx_list l = { 0 };
	char msg[256];
	if (!h)
		return NULL;
	/* Option mode stops before NBD_OPT_GO, where the server still answers
	 * NBD_OPT_LIST_META_CONTEXT; with no query it lists every context. */
	if (nbd_set_opt_mode(h, true) == -1 || rc_nbd_connect(h, uri, tls, w, msg, sizeof msg) ||
	    rs_nbd_opt_list(h, add_context, &l, w, msg, sizeof msg) || l.err) {
		free(l.s);
		nbd_close(h);
		return NULL;
	}
	nbd_close(h);
	return l.s ? l.s : strdup("none");
}
