/* SPDX-License-Identifier: MIT */
/*
 * The NBD endpoint's own state, shared by its three files: ep_nbd.c (the
 * operations table and each request's life: send, complete, retry, deliver;
 * flush and block status), ep_nbd_poll.c (the sockets polled on the ring,
 * and the I/O timeout) and ep_nbd_open.c (connecting, the handshake
 * options, closing).
 */
#ifndef RESYNC_EP_NBD_H
#define RESYNC_EP_NBD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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
	unsigned mask; /* POLLIN or POLLOUT */
	bool armed;
};

struct nbd_conn {
	struct nbd_handle *h;
	int fd;
	struct nbd_ep *ne;
	struct nbd_poll rd, wr;
	unsigned queued;      /* requests submitted here, not yet finished */
	uint64_t progress_ns; /* last bytes or reply, or when it last became busy */
	bool timed_out;       /* cut off for not answering */
	bool cut;             /* a command was abandoned on it (timeout, cancel) */
};

/* One rs_io in flight: one or more libnbd commands (a zero request may be
 * split, or emulated with writes). */
struct nbd_req {
	struct nbd_req *next; /* in the done queue */
	struct nbd_ep *ne;
	struct nbd_conn *conn;
	struct rs_io *io;
	unsigned parts;   /* commands not yet completed */
	unsigned refs;    /* libnbd's (one per command) + the delivery's */
	int err;          /* first failure, positive errno */
	const char *call; /* which libnbd call, for the message */
	bool fast_zero;   /* sent with NBD_CMD_FLAG_FAST_ZERO */
};

struct nbd_ep {
	struct rs_endpoint *ep;
	struct rs_ring *rg;
	struct nbd_conn conns[NBD_MAX_CONNS];
	unsigned nconns;
	unsigned next_conn; /* round-robin start among equally loaded */
	unsigned inflight;  /* rs_io submitted, cb not yet called */
	struct nbd_req *done_head, *done_tail;
	bool can_zero, fast_zero, can_flush, allocation;
	char *dirty_context; /* requested qemu:dirty-bitmap:NAME, or NULL */
	char *offered;       /* contexts the server offers, when listed */
	char *zeroes;        /* zero-filled buffer for servers without zero */
	uint32_t zeroes_len;
	uint32_t limit; /* the server's maximum payload: ep->max_request */
	uint64_t io_timeout_ns;
	bool flush_cancelled; /* a cancel cut a flush short */
	/* A checkpoint's flush beside the requests in flight (flush_start):
	 * its connection (NULL when the server cannot flush), and what to call
	 * once libnbd has its reply, from rs_nbd_deliver(). */
	struct nbd_conn *flush_conn;
	void (*flush_done)(void *arg, int err);
	void *flush_arg;
	int flush_err; /* positive errno from the reply */
	bool flush_pending, flush_finished;
};

/* ep_nbd.c */
/* Hands finished requests to their owners, outside any libnbd callback. */
void rs_nbd_deliver(struct nbd_ep *ne);
bool rs_nbd_conn_dead(const struct nbd_conn *c);
/* The errno of libnbd's last failure on c (may be NULL); ENOTCONN when the
 * connection is gone. */
int rs_nbd_last_errno(struct nbd_conn *c);

/* ep_nbd_poll.c */
/* A poll completion on one connection's socket (struct nbd_poll). */
void rs_nbd_on_poll(struct rs_completion *comp, int res);
/* Polls for what libnbd waits on. */
void rs_nbd_arm(struct nbd_conn *c);
/* Abandons what is in flight on c: the connection is shut down. */
void rs_nbd_cut(struct nbd_conn *c);
/* A wait of the I/O timeout, since the server last sent anything. */
struct rc_nbd_wait rs_nbd_ep_io_wait(const struct nbd_ep *ne, const atomic_int *cancel);
void rs_nbd_pump(struct rs_endpoint *ep);
unsigned rs_nbd_inflight(struct rs_endpoint *ep);
int rs_nbd_attach(struct rs_endpoint *ep, struct rs_ring *rg);

/* ep_nbd_open.c */
int rs_nbd_open(struct rs_endpoint *ep, bool write);
void rs_nbd_close_ep(struct rs_endpoint *ep);

#endif
