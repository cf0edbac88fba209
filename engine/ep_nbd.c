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
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "clock.h"
#include "endpoint.h"
#include "internal.h"
#include "nbd.h"

#define NBD_MAX_CONNS 16
/* The request size we offer the planner (larger plan blocks still go out
 * whole, up to the server's maximum): qemu-nbd (7.2, unix socket, 1 GiB
 * qcow2) moves 1 MiB requests at 80-100 MiB/s and 512 KiB ones at
 * 350-430 MiB/s, with any queue depth; nbdkit is as fast with either
 * (doc/nbd.md). */
#define NBD_MAX_REQUEST (512u << 10)
/* The NBD protocol's maximum payload when the server states none. */
#define NBD_DEFAULT_LIMIT (32u << 20)
/* Zero requests are sent in pieces of this size: a server zeroing slowly
 * (a thick target writing real zeroes) then still replies every few
 * seconds, which is what the I/O timeout watches for. */
#define NBD_MAX_ZERO (32u << 20)
/* Errors the server may report for a momentary condition; such a request is
 * sent again this many times before the copy fails. */
#define NBD_TRANSIENT_RETRIES 3

struct nbd_ep;

struct nbd_poll {
	struct rs_completion comp;
	struct nbd_conn *conn;
	unsigned mask;              /* POLLIN or POLLOUT */
	bool armed;
};

struct nbd_conn {
	struct nbd_handle *h;
	int fd;
	struct nbd_ep *ne;
	struct nbd_poll rd, wr;
	unsigned queued;            /* requests submitted here, not yet finished */
	uint64_t progress_ns;       /* last bytes or reply, or when it last became busy */
	bool timed_out;             /* cut off for not answering */
	bool cut;                   /* a command was abandoned on it (timeout, cancel) */
};

/* One rs_io in flight: one or more libnbd commands (a zero request may be
 * split, or emulated with writes). */
struct nbd_req {
	struct nbd_req *next;       /* in the done queue */
	struct nbd_ep *ne;
	struct nbd_conn *conn;
	struct rs_io *io;
	unsigned parts;             /* commands not yet completed */
	unsigned refs;              /* libnbd's (one per command) + the delivery's */
	int err;                    /* first failure, positive errno */
	const char *call;           /* which libnbd call, for the message */
	bool fast_zero;             /* sent with NBD_CMD_FLAG_FAST_ZERO */
};

struct nbd_ep {
	struct rs_endpoint *ep;
	struct rs_ring *rg;
	struct nbd_conn conns[NBD_MAX_CONNS];
	unsigned nconns;
	unsigned next_conn;         /* round-robin start among equally loaded */
	unsigned inflight;          /* rs_io submitted, cb not yet called */
	struct nbd_req *done_head, *done_tail;
	bool can_zero, fast_zero, can_flush, allocation;
	char *dirty_context;        /* requested qemu:dirty-bitmap:NAME, or NULL */
	char *offered;              /* contexts the server offers, when listed */
	char *zeroes;               /* zero-filled buffer for servers without zero */
	uint32_t zeroes_len;
	uint32_t limit;             /* the server's maximum payload: ep->max_request */
	uint64_t io_timeout_ns;
	bool flush_cancelled;       /* a cancel cut a flush short */
};

static void arm(struct nbd_conn *c);

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
		.callback = req_done_cb, .user_data = q, .free = req_free_cb,
	};
}

static bool conn_dead(const struct nbd_conn *c)
{
	return nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h);
}

/* libnbd refuses a command on a dead handle with EINVAL ("invalid state");
 * what happened is that the connection is gone. */
static int last_errno(struct nbd_conn *c)
{
	if (c && conn_dead(c))
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
		int64_t cookie = io->op == RS_OP_READ
			? nbd_aio_pread(h, io->buf, io->len, io->off, completion(q), 0)
			: nbd_aio_pwrite(h, io->buf, io->len, io->off, completion(q), 0);
		if (cookie == -1) {
			q->parts = 0;
			return -last_errno(q->conn);
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
			q->err = last_errno(q->conn);
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
static void deliver(struct nbd_ep *ne)
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
				arm(q->conn);
				continue;
			}
			q->err = -err;
		}
		int err = 0;
		q->conn->progress_ns = rc_now_ns();
		if (q->err && q->conn->timed_out) {
			/* The reason is on record already: the server went silent. */
			err = rs_fail(ep->r, -ETIMEDOUT, io->off, "%s %s: no reply", ep->role, ep->name);
		} else if (q->err) {
			static const char *const what[] = { "read", "write", "zero" };
			err = rs_fail(ep->r, -q->err, io->off, "%s %s: %s (%s) at offset %llu length %llu: %s",
				      ep->role, ep->name, q->call, what[io->op],
				      (unsigned long long)io->off, (unsigned long long)io->len,
				      strerror(q->err));
		} else {
			io->done = io->len;
		}
		q->conn->queued--;
		ne->inflight--;
		req_put(q);
		io->cb(io, err);
	}
}

static void on_poll(struct rs_completion *comp, int res)
{
	struct nbd_poll *p = (struct nbd_poll *)((char *)comp - offsetof(struct nbd_poll, comp));
	struct nbd_conn *c = p->conn;
	p->armed = false;
	if (res == -ECANCELED)
		return;
	if (res > 0) {
		unsigned dir = nbd_aio_get_direction(c->h);
		if (p->mask == POLLIN)
			c->progress_ns = rc_now_ns();
		/* A hangup or error is noticed by the read or write that follows. */
		if (p->mask == POLLIN && (dir & LIBNBD_AIO_DIRECTION_READ))
			nbd_aio_notify_read(c->h);
		else if (p->mask == POLLOUT && (dir & LIBNBD_AIO_DIRECTION_WRITE))
			nbd_aio_notify_write(c->h);
		/* A failed notify leaves the handle dead and libnbd has failed
		 * every command in flight through its callback: nothing more. */
	}
	deliver(c->ne);
	arm(c);
}

/* Polls for what libnbd waits on: replies while commands are in flight,
 * writability while it has bytes it could not send. */
static void arm(struct nbd_conn *c)
{
	struct nbd_ep *ne = c->ne;
	if (!ne->rg || nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h))
		return;
	unsigned dir = nbd_aio_get_direction(c->h);
	if (!c->rd.armed && (dir & LIBNBD_AIO_DIRECTION_READ) && nbd_aio_in_flight(c->h) > 0) {
		c->rd.armed = true;
		rs_ring_poll(ne->rg, c->fd, POLLIN, &c->rd.comp);
	}
	if (!c->wr.armed && (dir & LIBNBD_AIO_DIRECTION_WRITE)) {
		c->wr.armed = true;
		rs_ring_poll(ne->rg, c->fd, POLLOUT, &c->wr.comp);
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
		       ep->role, ep->name, (unsigned long long)io->off,
		       (unsigned long long)io->len, ep->align, ne->limit,
		       (unsigned long long)ep->size);
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
			      err == -ENOTCONN ? "the server closed the connection"
					       : nbd_get_error());
		req_put(q);
		return err;
	}
	if (q->conn->queued++ == 0)
		q->conn->progress_ns = rc_now_ns();
	ne->inflight++;
	arm(q->conn);
	return 0;
}

/* A connection whose server stopped answering is shut down: its socket then
 * polls as hung up, libnbd fails every request in flight, and the copy stops
 * (resumable from its checkpoint) instead of waiting forever. */
static void check_timeout(struct rs_endpoint *ep, struct nbd_conn *c, uint64_t now)
{
	struct nbd_ep *ne = ep->priv;
	if (!c->queued || c->timed_out || now - c->progress_ns < ne->io_timeout_ns)
		return;
	c->timed_out = true;
	rs_fail(ep->r, -ETIMEDOUT, UINT64_MAX,
		"%s %s: no reply from the server within %llu ms (%u requests in flight)", ep->role,
		ep->name, (unsigned long long)(ne->io_timeout_ns / 1000000), c->queued);
	shutdown(c->fd, SHUT_RDWR);
}

static void nbd_pump(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	uint64_t now = rc_now_ns();
	deliver(ne);
	for (unsigned i = 0; i < ne->nconns; i++) {
		check_timeout(ep, &ne->conns[i], now);
		arm(&ne->conns[i]);
	}
}

static unsigned nbd_inflight(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	return ne->inflight;
}

static int nbd_attach(struct rs_endpoint *ep, struct rs_ring *rg)
{
	struct nbd_ep *ne = ep->priv;
	ne->rg = rg;
	return 0;
}

/* Abandons what is in flight on c after a wait ended without its answer: the
 * connection is shut down, so nothing waits on it again. */
static void cut(struct nbd_conn *c)
{
	c->cut = true;
	shutdown(c->fd, SHUT_RDWR);
}

static struct rc_nbd_wait io_wait(const struct nbd_ep *ne, const atomic_int *cancel)
{
	return (struct rc_nbd_wait){
		.timeout_ms = (unsigned)(ne->io_timeout_ns / 1000000),
		.cancel = cancel,
	};
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
	struct nbd_conn *c = NULL;
	for (unsigned i = 0; i < ne->nconns && !c; i++)
		if (!ne->conns[i].timed_out && !ne->conns[i].cut && !conn_dead(&ne->conns[i]))
			c = &ne->conns[i];
	if (!c)
		return rs_fail(r, -ENOTCONN, UINT64_MAX, "%s %s: flush: no connection left",
			       ep->role, ep->name);
	bool cancelled = atomic_load(&r->cancelled);
	if (cancelled && ne->flush_cancelled)
		return rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled");
	struct rc_nbd_wait w = io_wait(ne, cancelled ? NULL : &r->cancelled);
	char msg[400];
	int64_t cookie = nbd_aio_flush(c->h, NBD_NULL_COMPLETION, 0);
	int err = rc_nbd_complete(c->h, cookie, &w, "flush", msg, sizeof msg);
	if (!err)
		return 0;
	if (err == -ECANCELED) {
		ne->flush_cancelled = true;
		cut(c);
		return rs_fail(r, err, UINT64_MAX, "cancelled");
	}
	if (err == -ETIMEDOUT)
		cut(c);
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
	struct rc_nbd_wait w = io_wait(ne, &ep->r->cancelled);
	char msg[400];
	int err = rs_nbd_extents(c->h, context, mask, off, len, fn, arg, &w, msg, sizeof msg);
	/* fn's own errors carry their message already. */
	if (!err || ep->r->err_code)
		return err;
	if (err == -ETIMEDOUT || err == -ECANCELED)
		cut(c);
	if (err == -ECANCELED)
		return rs_fail(ep->r, err, UINT64_MAX, "cancelled");
	if (err == -EPROTO)
		return rs_fail(ep->r, -EPROTO, UINT64_MAX,
			       "%s %s: block status: the reply for %s made no progress",
			       ep->role, ep->name, context);
	return rs_fail(ep->r, err, UINT64_MAX, "%s %s: %s (%s)", ep->role, ep->name, msg,
		       context);
}

static int nbd_zero_extents(struct rs_endpoint *ep, uint64_t off, uint64_t len,
			    rs_extent_fn fn, void *arg)
{
	struct nbd_ep *ne = ep->priv;
	if (!ne->allocation)
		return 0;
	return extents(ep, RS_NBD_ALLOCATION_CONTEXT, LIBNBD_STATE_ZERO, off, len, fn, arg);
}

static int nbd_dirty_extents(struct rs_endpoint *ep, const char *name, uint64_t off,
			     uint64_t len, rs_extent_fn fn, void *arg)
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
	c->rd = (struct nbd_poll){ .comp.fn = on_poll, .conn = c, .mask = POLLIN };
	c->wr = (struct nbd_poll){ .comp.fn = on_poll, .conn = c, .mask = POLLOUT };
	c->h = nbd_create();
	if (!c->h)
		return open_fail(ep, -ENOMEM, nbd_get_error());
	bool opt = first && ne->dirty_context;
	if (opt && nbd_set_opt_mode(c->h, true) == -1)
		return open_fail(ep, -last_errno(NULL), nbd_get_error());
	/* In option mode the list query comes first: libnbd sends the contexts
	 * added so far as its filter. */
	if (first && !opt && nbd_add_meta_context(c->h, RS_NBD_ALLOCATION_CONTEXT) == -1)
		return open_fail(ep, -last_errno(NULL), nbd_get_error());
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
			return open_fail(ep, -last_errno(NULL), nbd_get_error());
		if ((err = rs_nbd_opt_go(c->h, &cw, msg, sizeof msg)))
			return open_fail(ep, err, msg);
	}
	c->fd = nbd_aio_get_fd(c->h);
	if (c->fd < 0)
		return open_fail(ep, -last_errno(NULL), nbd_get_error());
	return 0;
}

static void nbd_close_ep(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	if (!ne)
		return;
	/* After any failure the server may not answer at all (it stalled, or
	 * is stopped): the sockets are just closed, which no server needs
	 * more than.  Otherwise each disconnect waits as a request would. */
	struct resync *r = ep->r;
	bool polite = !r->err_code && !atomic_load(&r->cancelled);
	struct rc_nbd_wait w = io_wait(ne, &r->cancelled);
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

static int nbd_open(struct rs_endpoint *ep, bool write)
{
	struct resync *r = ep->r;
	struct nbd_ep *ne = calloc(1, sizeof *ne);
	if (!ne)
		return rs_fail(r, -ENOMEM, UINT64_MAX, "%s %s: out of memory", ep->role, ep->name);
	ep->priv = ne;
	ne->ep = ep;
	ne->io_timeout_ns = (r->nbd_timeout_ms ? r->nbd_timeout_ms
					       : rc_env_ms("RESYNC_NBD_IO_TIMEOUT_MS",
							       RS_NBD_IO_TIMEOUT_MS)) * 1000000ull;
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
		err = open_fail(ep, -last_errno(NULL), nbd_get_error());
	if (!err && write && nbd_is_read_only(h) == 1)
		err = open_fail(ep, -EROFS, "the export is read-only");
	int64_t min = 0, pref = 0, max = 0;
	if (!err) {
		min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
		pref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
		max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	}
	if (err) {
		nbd_close_ep(ep);
		return err;
	}
	ep->size = (uint64_t)size;
	ep->align = min > 0 ? (uint32_t)min : 1;
	ep->pref_request = pref > 0 ? (uint32_t)pref : 0;
	ne->limit = max > 0 ? (uint32_t)rs_min((uint64_t)max, RS_MAX_REQUEST_SIZE)
			    : NBD_DEFAULT_LIMIT;
	ep->max_request = ne->limit;
	ep->want_request = (uint32_t)rs_min(ne->limit, NBD_MAX_REQUEST);
	ep->direct = false;
	ep->is_block = false;
	ne->allocation = nbd_can_meta_context(h, RS_NBD_ALLOCATION_CONTEXT) == 1;
	ne->can_flush = nbd_can_flush(h) == 1;
	ne->can_zero = nbd_can_zero(h) == 1;
	ne->fast_zero = ne->can_zero && nbd_can_fast_zero(h) == 1;
	if (write && !ne->can_zero) {
		ne->zeroes_len = (uint32_t)rs_min(ep->want_request, 1u << 20);
		ne->zeroes_len = (uint32_t)rs_max(rs_align_down(ne->zeroes_len, ep->align), ep->align);
		if (!(ne->zeroes = calloc(1, ne->zeroes_len))) {
			nbd_close_ep(ep);
			return rs_fail(r, -ENOMEM, UINT64_MAX, "%s %s: out of memory", ep->role, ep->name);
		}
	}
	/* Only a server that promises consistency across connections
	 * (multi-conn) gets more than one.  They are a speed-up, not a need: a
	 * server may still limit its clients (nbdkit --filter=limit), so the
	 * copy goes on with the connections it accepted. */
	if (nbd_can_multi_conn(h) == 1) {
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

const struct rs_endpoint_ops rs_nbd_ops = {
	.kind = "nbd",
	.open = nbd_open,
	.attach = nbd_attach,
	.submit = nbd_submit,
	.flush = nbd_flush_ep,
	.zero_extents = nbd_zero_extents,
	.dirty_extents = nbd_dirty_extents,
	.pump = nbd_pump,
	.inflight = nbd_inflight,
	.close = nbd_close_ep,
};
