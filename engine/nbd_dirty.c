/* SPDX-License-Identifier: MIT */
/* resync_nbd_dirty_extents(): a qemu dirty bitmap read over one NBD
 * connection outside a run (what resync-bitmap prints or captures), with the
 * handle's TLS settings, NBD timeouts, cancel and error message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "endpoint.h"
#include "internal.h"
#include "nbd.h"
#include "nbd_uri.h"

struct walk {
	const struct resync_extent_cb *cb;
	int cb_err; /* what a callback returned, passed through unchanged */
};

static int on_extent(void *arg, uint64_t off, uint64_t len)
{
	struct walk *w = arg;
	int err = w->cb->extent(w->cb->arg, off, len);
	if (err)
		w->cb_err = err;
	return err ? -ECANCELED : 0;
}

static int dirty_extents(struct resync *r, const char *uri, const char *context,
			 const struct resync_extent_cb *cb)
{
	char msg[512] = "";
	struct rc_nbd_tls tls = { r->tls_certs, r->tls_psk, r->tls_user };
	struct nbd_handle *h = nbd_create();
	if (!h)
		return rs_fail(r, -ENOMEM, UINT64_MAX, "nbd_create: %s", nbd_get_error());
	if (nbd_add_meta_context(h, context) == -1) {
		int err = rc_nbd_error(msg, sizeof msg);
		nbd_close(h);
		return rs_fail(r, err, UINT64_MAX, "%s: nbd_add_meta_context: %s", uri, msg);
	}
	struct rc_nbd_wait cw = rc_nbd_connect_wait(r->nbd_connect_timeout_ms, &r->cancelled);
	int err = rc_nbd_connect(h, uri, &tls, &cw, msg, sizeof msg);
	if (err) {
		nbd_close(h);
		return rs_fail(r, err, UINT64_MAX, "%s: %s", uri, msg);
	}
	if (nbd_can_meta_context(h, context) != 1) {
		/* Closed first: qemu-nbd serves one client at a time by default. */
		rc_nbd_close(h, NULL);
		char *offered = rs_nbd_list_contexts(uri, &tls, &cw);
		err = rs_fail(r, -ENOTSUP, UINT64_MAX,
			      "%s: the server does not offer %s (it offers: %s)", uri, context,
			      offered ? offered : "unknown");
		free(offered);
		return err;
	}
	struct rc_nbd_wait w = rs_nbd_io_wait(&r->cancelled);
	if (r->nbd_timeout_ms)
		w.timeout_ms = r->nbd_timeout_ms;
	int64_t size = nbd_get_size(h);
	if (size < 0) {
		err = rc_nbd_error(msg, sizeof msg);
		rc_nbd_close(h, &w);
		return rs_fail(r, err, UINT64_MAX, "%s: nbd_get_size: %s", uri, msg);
	}
	struct walk wk = { .cb = cb };
	if (cb->size && (wk.cb_err = cb->size(cb->arg, (uint64_t)size))) {
		rc_nbd_close(h, &w);
		return wk.cb_err;
	}
	err = rs_nbd_extents(h, context, RS_NBD_STATE_DIRTY, 0, (uint64_t)size, on_extent, &wk, &w,
			     msg, sizeof msg);
	rc_nbd_close(h, err ? NULL : &w);
	if (wk.cb_err)
		return wk.cb_err;
	if (err == -EPROTO)
		return rs_fail(r, err, UINT64_MAX,
			       "%s: block status for %s: the server's reply made no progress", uri,
			       context);
	if (err)
		return rs_fail(r, err, UINT64_MAX, "%s: %s", uri, *msg ? msg : strerror(-err));
	return 0;
}

int resync_nbd_dirty_extents(resync *r, const char *uri, const char *name,
			     const struct resync_extent_cb *cb)
{
	if (!r)
		return -EINVAL;
	if (r->running)
		return -EBUSY;
	rs_clear_error(r);
	if (!uri || !rc_is_nbd_uri(uri))
		return rs_fail(r, -EINVAL, UINT64_MAX, "%s: not an NBD URI", uri ? uri : "(null)");
	if (!name || !*name)
		return rs_fail(r, -EINVAL, UINT64_MAX, "no dirty bitmap name");
	if (!cb || cb->struct_size < sizeof *cb || cb->reserved || !cb->extent)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "struct resync_extent_cb: struct_size, reserved or extent is wrong");
	char *context = rs_nbd_dirty_context(name);
	if (!context)
		return rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory");
	r->running = 1;
	int ret = dirty_extents(r, uri, context, cb);
	free(context);
	atomic_store(&r->cancelled, 0);
	r->running = 0;
	return ret;
}
