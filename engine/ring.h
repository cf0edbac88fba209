/* SPDX-License-Identifier: MIT */
/*
 * The engine's one io_uring.  Every SQE carries a pointer to a struct
 * rs_completion as user_data; reaping a CQE calls its fn with the result, so
 * the loop never asks what kind of request completed (a file read, a poll on
 * an NBD socket, ...).
 */
#ifndef RESYNC_RING_H
#define RESYNC_RING_H

#include <stdint.h>
#include <liburing.h>

struct rs_completion {
	void (*fn)(struct rs_completion *c, int res);
};

struct rs_ring {
	struct io_uring ring;
	unsigned pending; /* SQEs prepared or in flight, not yet reaped */
	int files_registered;
	unsigned setup_flags;        /* the IORING_SETUP_ flags the kernel took */
	int error;                   /* a submit that failed for good: sticky */
	struct io_uring_sqe scratch; /* handed out once error is set; never submitted */
};

int rs_ring_init(struct rs_ring *rg, unsigned entries);
/* Closes the ring; once it returns, no file the ring used is held by it
 * (waits, bounded, for io-wq's late frees: ring.c). */
void rs_ring_exit(struct rs_ring *rg);
/* A fresh SQE whose completion calls c->fn; submits to make room if needed.
 * Never NULL: when making room fails (io_uring_enter refusing the submit for
 * any reason but EINTR) the error is kept in rg->error and a scratch SQE that
 * is never submitted is returned, so c->fn is never called and the next
 * rs_ring_run() returns the error: the ring has failed, and its user stops
 * waiting for completions. */
struct io_uring_sqe *rs_ring_sqe(struct rs_ring *rg, struct rs_completion *c);
/* Registers fds; returns the first fixed-file index, or a negative errno. */
int rs_ring_register_files(struct rs_ring *rg, const int *fds, unsigned n);
int rs_ring_register_buffers(struct rs_ring *rg, const struct iovec *iov, unsigned n);
/* Poll fd for mask (POLLIN/POLLOUT) once; c->fn gets the revents or -errno. */
void rs_ring_poll(struct rs_ring *rg, int fd, unsigned mask, struct rs_completion *c);
/* Submits what is prepared, waits up to timeout_ns (0: no wait) for at least
 * one completion, and dispatches every completion available. Returns the
 * number dispatched or a negative errno from io_uring_enter (rg->error first,
 * when an earlier submit failed). */
int rs_ring_run(struct rs_ring *rg, uint64_t timeout_ns);

#endif
