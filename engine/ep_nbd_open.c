/* SPDX-License-Identifier: MIT */
/* Opening and closing an NBD endpoint: its connections (one, or up to
 * NBD_MAX_CONNS with multi-conn), the meta contexts asked for, what the
 * server offers and allows, and a bounded disconnect (ep_nbd.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ep_nbd.h"

static int add_offered(void *arg, const char *name)
{
	struct nbd_ep *ne = arg;
	size_t have = ne->offered ? strlen(ne->offered) : 0, n = strlen(name);
	char *s = realloc(ne->offered, have + n + 3);
	if (!s)
		return -1;
	if (have)
		memcpy(s + have, ", ", 2), have += 2;
	memcpy(s + have, name, n + 1);
	ne->offered = s;
	return 0;
}

/* A Unix socket's default send buffer (net.core.wmem_default, 208 KiB)
 * holds less than one request of NBD_MAX_REQUEST: each write then goes out
 * in pieces, every piece a wake-up of the server and a POLLOUT round on our
 * ring, which on a CPU-bound host costs as much as the copying.  Room for two
 * whole requests (the kernel caps it at net.core.wmem_max) lets a request
 * leave in one send.  TCP is left alone: setting the buffer there turns off
 * the kernel's own sizing, which follows the link. */
static void widen_unix_send_buffer(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) || sa.ss_family != AF_UNIX)
		return;
	int want = 2 * (NBD_MAX_REQUEST + 4096);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

static int open_fail(struct rs_endpoint *ep, int err, const char *msg)
{
	return rs_fail(ep->r, err, UINT64_MAX, "%s %s: %s", ep->role, ep->name, msg);
}

/* Connects one handle.  The first one of a source asks for allocation and,
 * in nbd-dirty mode, for the dirty bitmap's context; when it asks for the
 * bitmap it first lists what the server offers, for the error message should
 * the bitmap be missing (listing on a second connection could wait forever
 * on qemu-nbd, which serves one client at a time by default). */
static int connect_one(struct rs_endpoint *ep, struct nbd_conn *c, bool first)
{
	struct nbd_ep *ne = ep->priv;
	struct resync *r = ep->r;
	const struct rc_nbd_tls tls = { r->tls_certs, r->tls_psk, r->tls_user };
	char msg[400];
	c->ne = ne;
	c->rd = (struct nbd_poll){ .comp.fn = rs_nbd_on_poll, .conn = c, .mask = POLLIN };
	c->wr = (struct nbd_poll){ .comp.fn = rs_nbd_on_poll, .conn = c, .mask = POLLOUT };
	c->h = nbd_create();
	if (!c->h)
		return open_fail(ep, -ENOMEM, nbd_get_error());
	bool opt = first && ne->dirty_context;
	if (opt && nbd_set_opt_mode(c->h, true) == -1)
		return open_fail(ep, -rs_nbd_last_errno(NULL), nbd_get_error());
	/* In option mode the list query comes first: libnbd sends the contexts
	 * added so far as its filter. */
	if (first && !opt && nbd_add_meta_context(c->h, RS_NBD_ALLOCATION_CONTEXT) == -1)
		return open_fail(ep, -rs_nbd_last_errno(NULL), nbd_get_error());
	struct rc_nbd_wait cw = rc_nbd_connect_wait(r->nbd_connect_timeout_ms, &r->cancelled);
	int err = rc_nbd_connect(c->h, ep->name, &tls, &cw, msg, sizeof msg);
	if (err == -ECANCELED)
		return rs_fail(r, err, UINT64_MAX, "cancelled");
	if (err)
		return open_fail(ep, err, msg);
	if (opt) {
		/* Not every server can list; the message then says "unknown". */
		err = rs_nbd_opt_list(c->h, add_offered, ne, &cw, msg, sizeof msg);
		if (err == -ETIMEDOUT || err == -ECANCELED || err == -ENOTCONN)
			return open_fail(ep, err, msg);
		if (nbd_add_meta_context(c->h, RS_NBD_ALLOCATION_CONTEXT) == -1 ||
		    nbd_add_meta_context(c->h, ne->dirty_context) == -1)
			return open_fail(ep, -rs_nbd_last_errno(NULL), nbd_get_error());
		if ((err = rs_nbd_opt_go(c->h, &cw, msg, sizeof msg)))
			return open_fail(ep, err, msg);
	}
	c->fd = nbd_aio_get_fd(c->h);
	if (c->fd < 0)
		return open_fail(ep, -rs_nbd_last_errno(NULL), nbd_get_error());
	widen_unix_send_buffer(c->fd);
	return 0;
}

void rs_nbd_close_ep(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	if (!ne)
		return;
	/* After any failure the server may not answer at all (it stalled, or
	 * is stopped): the sockets are just closed, which no server needs
	 * more than.  Otherwise each disconnect waits as a request would. */
	struct resync *r = ep->r;
	bool polite = !r->err_code && !atomic_load(&r->cancelled);
	struct rc_nbd_wait w = rs_nbd_ep_io_wait(ne, &r->cancelled);
	for (unsigned i = 0; i < ne->nconns; i++) {
		struct nbd_conn *c = &ne->conns[i];
		rc_nbd_close(c->h, polite && !c->timed_out && !c->cut ? &w : NULL);
	}
	free(ne->dirty_context);
	free(ne->offered);
	free(ne->zeroes);
	free(ne);
	ep->priv = NULL;
}

int rs_nbd_open(struct rs_endpoint *ep, bool write)
{
	struct resync *r = ep->r;
	struct nbd_ep *ne = calloc(1, sizeof *ne);
	if (!ne)
		return rs_fail(r, -ENOMEM, UINT64_MAX, "%s %s: out of memory", ep->role, ep->name);
	ep->priv = ne;
	ne->ep = ep;
	ne->io_timeout_ns = (r->nbd_timeout_ms ?
				     r->nbd_timeout_ms :
				     rc_env_ms("RESYNC_NBD_IO_TIMEOUT_MS", RS_NBD_IO_TIMEOUT_MS)) *
			    1000000ull;
	int err = 0;
	if (!write && r->mode == RESYNC_NBD_DIRTY && r->mode_arg &&
	    !(ne->dirty_context = rs_nbd_dirty_context(r->mode_arg)))
		err = open_fail(ep, -ENOMEM, "out of memory");
	if (!err) {
		ne->nconns = 1;
		err = connect_one(ep, &ne->conns[0], true);
	}
	struct nbd_handle *h = ne->conns[0].h;
	int64_t size = err ? 0 : nbd_get_size(h);
	if (!err && size < 0)
		err = open_fail(ep, -rs_nbd_last_errno(NULL), nbd_get_error());
	if (!err && write && nbd_is_read_only(h) == 1)
		err = open_fail(ep, -EROFS, "the export is read-only");
	int64_t min = 0, pref = 0, max = 0;
	if (!err) {
		min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
		pref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
		max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	}
	if (err) {
		rs_nbd_close_ep(ep);
		return err;
	}
	ep->size = (uint64_t)size;
	ep->align = min > 0 ? (uint32_t)min : 1;
	ep->pref_request = pref > 0 ? (uint32_t)pref : 0;
	ne->limit = max > 0 ? (uint32_t)rs_min((uint64_t)max, RS_MAX_REQUEST_SIZE) :
			      NBD_DEFAULT_LIMIT;
	ep->max_request = ne->limit;
	ep->want_request = (uint32_t)rs_min(ne->limit, NBD_MAX_REQUEST);
	ep->direct = false;
	ep->is_block = false;
	ep->zero_query_span = RS_NBD_STATUS_CHUNK;
	ne->allocation = nbd_can_meta_context(h, RS_NBD_ALLOCATION_CONTEXT) == 1;
	ne->can_flush = nbd_can_flush(h) == 1;
	ne->can_zero = nbd_can_zero(h) == 1;
	ne->fast_zero = ne->can_zero && nbd_can_fast_zero(h) == 1;
	if (write && !ne->can_zero) {
		ne->zeroes_len = (uint32_t)rs_min(ep->want_request, 1u << 20);
		ne->zeroes_len =
			(uint32_t)rs_max(rs_align_down(ne->zeroes_len, ep->align), ep->align);
		if (!(ne->zeroes = calloc(1, ne->zeroes_len))) {
			rs_nbd_close_ep(ep);
			return rs_fail(r, -ENOMEM, UINT64_MAX, "%s %s: out of memory", ep->role,
				       ep->name);
		}
	}
	/* Only a server that promises consistency across connections
	 * (multi-conn) gets more than one.  They are a speed-up, not a need: a
	 * server may still limit its clients (nbdkit --filter=limit), so the
	 * copy goes on with the connections it accepted.  So a check
	 * (RESYNC_F_CHECK_ONLY, which moves no data) learns all it can from
	 * the first and opens no more: resyncctl checks every disk before its
	 * job starts, and their handshakes were on the path to the first
	 * write. */
	if (nbd_can_multi_conn(h) == 1 && !(r->flags & RESYNC_F_CHECK_ONLY)) {
		unsigned want = rs_min(rs_max(r->nbd_connections, 1), NBD_MAX_CONNS);
		while (ne->nconns < want) {
			struct nbd_conn *c = &ne->conns[ne->nconns];
			if (connect_one(ep, c, false)) {
				nbd_close(c->h);
				c->h = NULL;
				rs_clear_error(r);
				break;
			}
			ne->nconns++;
		}
	}
	return 0;
}
