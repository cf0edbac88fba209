/* SPDX-License-Identifier: MIT */
/*
 * NBD endpoints through libnbd's asynchronous API, driven from the engine's
 * one io_uring: each connection's socket is polled with one-shot poll
 * requests on the ring, and a poll completion tells libnbd the socket is
 * ready (nbd_aio_notify_read/write).  libnbd runs our completion callbacks
 * inside those calls, where calling back into libnbd is not allowed, so a
 * finished request is only queued there and handed to its rs_io's cb after
 * libnbd has returned.  Progress, for the I/O timeout, is anything the
 * server sends, not whole requests: one long zero request split into many
 * commands is answered piece by piece.  The calls outside the copy loop
 * (flush, block status, the handshake, the disconnect) are asynchronous too,
 * driven by rc_nbd_drive() with the same timeout and the handle's cancel flag.
 * This file: the operations table and each request's life; polling and the
 * timeout are in ep_nbd_poll.c, connecting in ep_nbd_open.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "ep_nbd.h"

static void req_put(struct nbd_req *q)
{
	if (--q->refs == 0)
		free(q);
}

/* libnbd calls this once it is finished with a command's callback. */
static void req_free_cb(void *user_data)
{
	req_put(user_data);
}

static void part_done(struct nbd_req *q)
{
	if (--q->parts)
		return;
	struct nbd_ep *ne = q->ne;
	q->next = NULL;
	if (ne->done_tail)
		ne->done_tail->next = q;
	else
		ne->done_head = q;
	ne->done_tail = q;
}

/* Inside libnbd: record, and queue the request once all its commands ended. */
static int req_done_cb(void *user_data, int *error)
{
	struct nbd_req *q = user_data;
	q->conn->progress_ns = rc_now_ns();
	if (*error && !q->err)
		q->err = *error;
	part_done(q);
	return 1;
}

static nbd_completion_callback completion(struct nbd_req *q)
{
	return (nbd_completion_callback){
		.callback = req_done_cb,
		.user_data = q,
		.free = req_free_cb,
	};
}

bool rs_nbd_conn_dead(const struct nbd_conn *c)
{
	return nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h);
}

/* libnbd refuses a command on a dead handle with EINVAL ("invalid state");
 * what happened is that the connection is gone. */
int rs_nbd_last_errno(struct nbd_conn *c)
{
	if (c && rs_nbd_conn_dead(c))
		return ENOTCONN;
	int err = nbd_get_errno();
	return err ? err : EIO;
}

/* Sends one command for [off, off + len) of q; -1 with libnbd's error set. */
static int64_t send_zero(struct nbd_req *q, uint64_t off, uint64_t len)
{
	struct nbd_ep *ne = q->ne;
	struct nbd_handle *h = q->conn->h;
	if (!ne->can_zero) {
		q->call = "nbd_aio_pwrite";
		return nbd_aio_pwrite(h, ne->zeroes, len, off, completion(q), 0);
	}
	/* Without the user's leave the target keeps its allocation: a thick
	 * target stays thick, which its owner may rely on. */
	uint32_t flags = (ne->ep->r->flags & RESYNC_F_ALLOW_TRIM) ? 0 : LIBNBD_CMD_FLAG_NO_HOLE;
	if (q->fast_zero)
		flags |= LIBNBD_CMD_FLAG_FAST_ZERO;
	q->call = "nbd_aio_zero";
	return nbd_aio_zero(h, len, off, completion(q), flags);
}

/* Issues q's commands.  Returns 0 when at least one was sent (q finishes
 * through its callbacks), else the negative errno of the failed send.
 * libnbd drops its reference (the free callback) even when a send fails. */
static int send_req(struct nbd_req *q)
{
	struct rs_io *io = q->io;
	struct nbd_handle *h = q->conn->h;
	if (io->op != RS_OP_ZERO) {
		q->parts = 1;
		q->refs++;
		q->call = io->op == RS_OP_READ ? "nbd_aio_pread" : "nbd_aio_pwrite";
		int64_t cookie =
			io->op == RS_OP_READ ?
				nbd_aio_pread(h, io->buf, io->len, io->off, completion(q), 0) :
				nbd_aio_pwrite(h, io->buf, io->len, io->off, completion(q), 0);
		if (cookie == -1) {
			q->parts = 0;
			return -rs_nbd_last_errno(q->conn);
		}
		return 0;
	}
	struct nbd_ep *ne = q->ne;
	uint64_t piece = ne->can_zero ? NBD_MAX_ZERO : ne->zeroes_len;
	unsigned sent = 0;
	/* One part stands for the sending itself, so the request cannot finish
	 * while pieces are still being sent. */
	q->parts = 1;
	for (uint64_t off = io->off, end = io->off + io->len; off < end; off += piece) {
		q->parts++;
		q->refs++;
		if (send_zero(q, off, rs_min(piece, end - off)) == -1) {
			q->parts--;
			/* Pieces already out finish the request, failed. */
			q->err = rs_nbd_last_errno(q->conn);
			break;
		}
		sent++;
	}
	if (!sent) {
		q->parts = 0;
		return -q->err;
	}
	part_done(q);
	return 0;
}

static bool transient(int err)
{
	return err == EAGAIN || err == EINTR || err == ENOMEM;
}

/* Hands finished requests to their owners, outside any libnbd callback. */
void rs_nbd_deliver(struct nbd_ep *ne)
{
	struct nbd_req *q;
	while ((q = ne->done_head)) {
		ne->done_head = q->next;
		if (!ne->done_head)
			ne->done_tail = NULL;
		struct rs_io *io = q->io;
		struct rs_endpoint *ep = ne->ep;
		/* A server may refuse a fast zero it cannot do quickly; it can
		 * still zero slowly, which beats sending the zeroes. */
		bool resend = false;
		if (q->err == ENOTSUP && q->fast_zero) {
			ne->fast_zero = false;
			q->fast_zero = false;
			resend = true;
		} else if (q->err && transient(q->err) && !q->conn->timed_out &&
			   io->retries < NBD_TRANSIENT_RETRIES) {
			io->retries++;
			resend = true;
		}
		if (resend) {
			q->err = 0;
			int err = send_req(q);
			if (!err) {
				rs_nbd_arm(q->conn);
				continue;
			}
			q->err = -err;
		}
		int err = 0;
		q->conn->progress_ns = rc_now_ns();
		if (q->err && q->conn->timed_out) {
			/* The reason is on record already: the server went silent. */
			err = rs_fail(ep->r, -ETIMEDOUT, io->off, "%s %s: no reply", ep->role,
				      ep->name);
		} else if (q->err) {
			static const char *const what[] = { "read", "write", "zero" };
			err = rs_fail(ep->r, -q->err, io->off,
				      "%s %s: %s (%s) at offset %llu length %llu: %s", ep->role,
				      ep->name, q->call, what[io->op], (unsigned long long)io->off,
				      (unsigned long long)io->len, strerror(q->err));
		} else {
			io->done = io->len;
		}
		q->conn->queued--;
		ne->inflight--;
		req_put(q);
		io->cb(io, err);
	}
	if (ne->flush_finished) {
		struct nbd_conn *c = ne->flush_conn;
		int err = -ne->flush_err;
		ne->flush_finished = ne->flush_pending = false;
		ne->flush_conn = NULL;
		if (c) {
			c->queued--;
			c->progress_ns = rc_now_ns();
			if (err && c->timed_out)
				err = -ETIMEDOUT;
		}
		ne->flush_done(ne->flush_arg, err);
	}
}

/* The least loaded connection, the round-robin order breaking ties. */
static struct nbd_conn *pick_conn(struct nbd_ep *ne)
{
	struct nbd_conn *best = NULL;
	for (unsigned i = 0; i < ne->nconns; i++) {
		struct nbd_conn *c = &ne->conns[(ne->next_conn + i) % ne->nconns];
		if (!best || c->queued < best->queued)
			best = c;
	}
	ne->next_conn = (ne->next_conn + 1) % ne->nconns;
	return best;
}

static int check_request(struct rs_endpoint *ep, const struct rs_io *io)
{
	struct nbd_ep *ne = ep->priv;
	uint64_t end = io->off + io->len;
	bool aligned = io->off % ep->align == 0 && (io->len % ep->align == 0 || end == ep->size);
	bool sized = io->op == RS_OP_ZERO || io->len <= ne->limit;
	if (aligned && sized && end <= ep->size && io->len)
		return 0;
	return rs_fail(ep->r, -EINVAL, io->off,
		       "%s %s: request at offset %llu length %llu violates the export's block "
		       "size constraints (minimum %u, maximum %u, size %llu)",
		       ep->role, ep->name, (unsigned long long)io->off, (unsigned long long)io->len,
		       ep->align, ne->limit, (unsigned long long)ep->size);
}

static int nbd_submit(struct rs_endpoint *ep, struct rs_io *io)
{
	struct nbd_ep *ne = ep->priv;
	int err = check_request(ep, io);
	if (err)
		return err;
	struct nbd_req *q = calloc(1, sizeof *q);
	if (!q)
		return rs_fail(ep->r, -ENOMEM, io->off, "%s %s: out of memory", ep->role, ep->name);
	q->ne = ne;
	q->io = io;
	q->conn = pick_conn(ne);
	q->refs = 1;
	q->fast_zero = ne->fast_zero;
	err = send_req(q);
	if (err) {
		static const char *const what[] = { "read", "write", "zero" };
		err = rs_fail(ep->r, err, io->off, "%s %s: %s (%s) at offset %llu length %llu: %s",
			      ep->role, ep->name, q->call, what[io->op],
			      (unsigned long long)io->off, (unsigned long long)io->len,
			      err == -ENOTCONN ? "the server closed the connection" :
						 nbd_get_error());
		req_put(q);
		return err;
	}
	if (q->conn->queued++ == 0)
		q->conn->progress_ns = rc_now_ns();
	ne->inflight++;
	rs_nbd_arm(q->conn);
	return 0;
}

/* A connection still fit to carry a flush, or NULL. */
static struct nbd_conn *flush_conn(struct nbd_ep *ne)
{
	for (unsigned i = 0; i < ne->nconns; i++)
		if (!ne->conns[i].timed_out && !ne->conns[i].cut &&
		    !rs_nbd_conn_dead(&ne->conns[i]))
			return &ne->conns[i];
	return NULL;
}

/* Inside libnbd: the flush's reply is in; its owner hears of it from
 * rs_nbd_deliver(). */
static int flush_cb(void *user_data, int *error)
{
	struct nbd_ep *ne = user_data;
	ne->flush_err = *error;
	ne->flush_finished = true;
	ne->flush_conn->progress_ns = rc_now_ns();
	return 1;
}

/* A checkpoint's flush, sent beside the copy's requests and driven by the
 * ring like them: libnbd interleaves commands on a connection, so nothing
 * needs to drain first.  The server may handle requests in any order, so
 * the flush covers the writes whose replies libnbd had received when it was
 * issued; the copy retires a block only once the reply for its write was
 * delivered, on this same thread, so the plan it snapshots now names no
 * block the flush might miss.  With multi-conn a flush on one connection
 * covers the writes answered on all of them (the NBD protocol's promise for
 * NBD_FLAG_CAN_MULTI_CONN); without it there is only one connection.  The
 * flush counts as a request on its connection, so the I/O timeout watches
 * it, and a cancel lets it finish (bounded by that timeout). */
static int nbd_flush_start(struct rs_endpoint *ep, void (*done)(void *arg, int err), void *arg)
{
	struct nbd_ep *ne = ep->priv;
	if (ne->flush_pending)
		return -EBUSY;
	ne->flush_done = done;
	ne->flush_arg = arg;
	ne->flush_err = 0;
	ne->flush_conn = NULL;
	if (!ne->can_flush) {
		/* Delivered by the next pump, like a reply. */
		ne->flush_pending = ne->flush_finished = true;
		return 0;
	}
	struct nbd_conn *c = flush_conn(ne);
	if (!c)
		return -ENOTCONN;
	ne->flush_conn = c;
	if (nbd_aio_flush(c->h, (nbd_completion_callback){ .callback = flush_cb, .user_data = ne },
			  0) == -1) {
		ne->flush_conn = NULL;
		return -rs_nbd_last_errno(c);
	}
	ne->flush_pending = true;
	if (c->queued++ == 0)
		c->progress_ns = rc_now_ns();
	rs_nbd_arm(c);
	return 0;
}

/* With multi-conn a flush on one connection covers writes completed on all
 * of them; without it there is only one connection.  A cancel cuts a flush
 * short; a flush that starts after a cancel (saving the progress made) still
 * runs, bounded by the I/O timeout, unless an earlier flush was already cut
 * short by it: that server is slow to flush and the caller asked to stop. */
static int nbd_flush_ep(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	struct resync *r = ep->r;
	if (!ne->can_flush)
		return 0;
	struct nbd_conn *c = flush_conn(ne);
	if (!c)
		return rs_fail(r, -ENOTCONN, UINT64_MAX, "%s %s: flush: no connection left",
			       ep->role, ep->name);
	bool cancelled = atomic_load(&r->cancelled);
	if (cancelled && ne->flush_cancelled)
		return rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled");
	struct rc_nbd_wait w = rs_nbd_ep_io_wait(ne, cancelled ? NULL : &r->cancelled);
	char msg[400];
	int64_t cookie = nbd_aio_flush(c->h, NBD_NULL_COMPLETION, 0);
	int err = rc_nbd_complete(c->h, cookie, &w, "flush", msg, sizeof msg);
	if (!err)
		return 0;
	if (err == -ECANCELED) {
		ne->flush_cancelled = true;
		rs_nbd_cut(c);
		return rs_fail(r, err, UINT64_MAX, "cancelled");
	}
	if (err == -ETIMEDOUT)
		rs_nbd_cut(c);
	return rs_fail(r, err, UINT64_MAX, "%s %s: %s", ep->role, ep->name, msg);
}

struct extent_relay {
	rs_extent_fn fn;
	void *arg;
};

/* Block status on the first connection, cancellable; a wait that ended
 * leaves a command in flight, so that connection is given up. */
static int extents(struct rs_endpoint *ep, const char *context, uint32_t mask, uint64_t off,
		   uint64_t len, rs_extent_fn fn, void *arg)
{
	struct nbd_ep *ne = ep->priv;
	struct nbd_conn *c = &ne->conns[0];
	struct rc_nbd_wait w = rs_nbd_ep_io_wait(ne, &ep->r->cancelled);
	char msg[400];
	int err = rs_nbd_extents(c->h, context, mask, off, len, fn, arg, &w, msg, sizeof msg);
	/* fn's own errors carry their message already. */
	if (!err || ep->r->err_code)
		return err;
	if (err == -ETIMEDOUT || err == -ECANCELED)
		rs_nbd_cut(c);
	if (err == -ECANCELED)
		return rs_fail(ep->r, err, UINT64_MAX, "cancelled");
	if (err == -EPROTO)
		return rs_fail(ep->r, -EPROTO, UINT64_MAX,
			       "%s %s: block status: the reply for %s made no progress", ep->role,
			       ep->name, context);
	return rs_fail(ep->r, err, UINT64_MAX, "%s %s: %s (%s)", ep->role, ep->name, msg, context);
}

static int nbd_zero_extents(struct rs_endpoint *ep, uint64_t off, uint64_t len, rs_extent_fn fn,
			    void *arg)
{
	struct nbd_ep *ne = ep->priv;
	if (!ne->allocation)
		return 0;
	return extents(ep, RS_NBD_ALLOCATION_CONTEXT, LIBNBD_STATE_ZERO, off, len, fn, arg);
}

static int nbd_dirty_extents(struct rs_endpoint *ep, const char *name, uint64_t off, uint64_t len,
			     rs_extent_fn fn, void *arg)
{
	struct nbd_ep *ne = ep->priv;
	char *context = rs_nbd_dirty_context(name);
	if (!context)
		return rs_fail(ep->r, -ENOMEM, UINT64_MAX, "%s %s: out of memory", ep->role,
			       ep->name);
	int err;
	if (!ne->dirty_context || strcmp(context, ne->dirty_context) ||
	    nbd_can_meta_context(ne->conns[0].h, context) != 1) {
		err = rs_fail(ep->r, -ENOTSUP, UINT64_MAX,
			      "%s %s: the server does not offer %s (it offers: %s)", ep->role,
			      ep->name, context, ne->offered ? ne->offered : "unknown");
	} else {
		err = extents(ep, context, RS_NBD_STATE_DIRTY, off, len, fn, arg);
	}
	free(context);
	return err;
}

const struct rs_endpoint_ops rs_nbd_ops = {
	.kind = "nbd",
	.open = rs_nbd_open,
	.attach = rs_nbd_attach,
	.submit = nbd_submit,
	.flush = nbd_flush_ep,
	.flush_start = nbd_flush_start,
	.zero_extents = nbd_zero_extents,
	.dirty_extents = nbd_dirty_extents,
	.pump = rs_nbd_pump,
	.inflight = rs_nbd_inflight,
	.close = rs_nbd_close_ep,
};
