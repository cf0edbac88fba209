/* SPDX-License-Identifier: MIT */
/* The NBD endpoint's sockets on the ring: one-shot polls armed for what
 * libnbd waits on, their completions handed to libnbd, and the I/O timeout
 * that shuts down a connection whose server went silent (ep_nbd.h). */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include "clock.h"
#include "ep_nbd.h"

void rs_nbd_on_poll(struct rs_completion *comp, int res)
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
	rs_nbd_deliver(c->ne);
	rs_nbd_arm(c);
}

/* Polls for what libnbd waits on: replies while commands are in flight,
 * writability while it has bytes it could not send. */
void rs_nbd_arm(struct nbd_conn *c)
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

void rs_nbd_pump(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	/* Delivering stamps progress_ns: the clock is read after it, or a
	 * stamp later than now would wrap now - progress_ns around and cut a
	 * connection that is answering. */
	rs_nbd_deliver(ne);
	uint64_t now = rc_now_ns();
	for (unsigned i = 0; i < ne->nconns; i++) {
		check_timeout(ep, &ne->conns[i], now);
		rs_nbd_arm(&ne->conns[i]);
	}
}

unsigned rs_nbd_inflight(struct rs_endpoint *ep)
{
	struct nbd_ep *ne = ep->priv;
	return ne->inflight;
}

int rs_nbd_attach(struct rs_endpoint *ep, struct rs_ring *rg)
{
	struct nbd_ep *ne = ep->priv;
	ne->rg = rg;
	return 0;
}

/* Abandons what is in flight on c after a wait ended without its answer: the
 * connection is shut down, so nothing waits on it again. */
void rs_nbd_cut(struct nbd_conn *c)
{
	c->cut = true;
	shutdown(c->fd, SHUT_RDWR);
}

struct rc_nbd_wait rs_nbd_ep_io_wait(const struct nbd_ep *ne, const atomic_int *cancel)
{
	return (struct rc_nbd_wait){
		.timeout_ms = (unsigned)(ne->io_timeout_ns / 1000000),
		.cancel = cancel,
	};
}
