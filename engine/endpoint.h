/* SPDX-License-Identifier: MIT */
/*
 * Endpoints: the table of operations per kind (file or block device, NBD), so
 * the copy loop never asks what it talks to.  I/O is asynchronous: submit()
 * queues an rs_io and its cb runs from the ring loop once the whole range is
 * done (short transfers and EAGAIN/EINTR already retried) or has failed.
 */
#ifndef RESYNC_ENDPOINT_H
#define RESYNC_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include "ring.h"

struct resync;
struct rs_endpoint;

enum rs_op { RS_OP_READ, RS_OP_WRITE, RS_OP_ZERO };

struct rs_io {
	struct rs_completion comp; /* for io_uring-backed endpoints */
	struct rs_endpoint *ep;
	enum rs_op op;
	uint64_t off;
	uint64_t len;
	char *buf;               /* READ/WRITE: len bytes inside a registered buffer */
	int buf_index;           /* its registered index */
	uint64_t done;           /* bytes completed so far (short transfers) */
	unsigned retries;        /* transient failures retried so far */
	unsigned method;         /* the endpoint's choice of method for this I/O */
	int res;                 /* scratch for the endpoint */
	unsigned wb_stage;       /* a buffered file target's writeback step (ep_file.c) */
	uint64_t wb_off, wb_len; /* the range that step waits for, then drops */
	/* Called once: err 0, or a negative errno with the message already set
	 * on the handle by the endpoint (rs_fail). */
	void (*cb)(struct rs_io *io, int err);
	void *owner;
};

/* Reports [off, off + len) of an endpoint as reading back zeroes. */
typedef int (*rs_extent_fn)(void *arg, uint64_t off, uint64_t len);

struct rs_endpoint_ops {
	const char *kind;
	/* Opens ep->name; write: the target.  Fills size, align, direct, caps. */
	int (*open)(struct rs_endpoint *ep, bool write);
	/* After the ring exists: register files or arm polls. */
	int (*attach)(struct rs_endpoint *ep, struct rs_ring *rg);
	int (*submit)(struct rs_endpoint *ep, struct rs_io *io);
	/* Makes completed writes durable; may block (called between batches). */
	int (*flush)(struct rs_endpoint *ep);
	/* The same without setting a message (a negative errno only), safe on
	 * another thread beside the endpoint's I/O in flight: covers what
	 * completed before it began.  NULL and no flush_start: the copy drains
	 * and calls flush(). */
	int (*flush_beside)(struct rs_endpoint *ep);
	/* The same on the ring, for an endpoint that drives its I/O there
	 * (NBD): starts a flush beside the I/O in flight covering what
	 * completed before this call; done(arg, err) runs later from the ring
	 * loop (0 or a negative errno, no message set).  Returns 0, or a
	 * negative errno when no flush was started (done is not called). */
	int (*flush_start)(struct rs_endpoint *ep, void (*done)(void *arg, int err), void *arg);
	/* Calls fn for ranges inside [off, off + len) known to read as zeroes
	 * (holes, unallocated or zero extents).  NULL: nothing is known. */
	int (*zero_extents)(struct rs_endpoint *ep, uint64_t off, uint64_t len, rs_extent_fn fn,
			    void *arg);
	/* Calls fn for the dirty ranges of a named change record on the endpoint
	 * (NBD: qemu:dirty-bitmap:NAME).  NULL: not supported. */
	int (*dirty_extents)(struct rs_endpoint *ep, const char *name, uint64_t off, uint64_t len,
			     rs_extent_fn fn, void *arg);
	/* Before the loop waits: re-arm polls for work the endpoint has queued. */
	void (*pump)(struct rs_endpoint *ep);
	/* Requests submitted but not yet called back. */
	unsigned (*inflight)(struct rs_endpoint *ep);
	void (*close)(struct rs_endpoint *ep);
};

struct rs_endpoint {
	const struct rs_endpoint_ops *ops;
	struct resync *r;
	const char *role; /* "source" or "target", for messages */
	const char *name; /* path or URI as given */
	uint64_t size;
	uint32_t align;        /* offsets and lengths of direct I/O are multiples */
	uint32_t max_request;  /* largest transfer it takes (NBD maximum block), 0: none */
	uint32_t want_request; /* largest it works best with; a whole block may exceed
				  * it, up to max_request.  0: no preference */
	uint32_t pref_request; /* the device's or server's preferred size (a hint) */
	/* The request queue under it (a block device's, or that of the device
	 * a file's file system is on; 0: unknown), for tune.c: the largest
	 * request the device takes whole and how many requests it queues. */
	uint32_t dev_max_request;
	uint32_t dev_queue;
	const char *facts; /* where pref_request and dev_* came from, for the
			    * verbose report; NULL: nothing was reported */
	/* zero_extents answers for up to this many bytes at the cost of one
	 * call (an NBD round trip), so nearby planned runs are asked together;
	 * 0: one call per run (lseeks cost less than the holes between runs
	 * may hold extents) */
	uint64_t zero_query_span;
	bool direct;    /* O_DIRECT in use */
	bool writeback; /* buffered writes with a sync_file_range window (writeback.h) */
	bool is_block;  /* a block device */
	/* Identity, to refuse copying a disk onto itself: st_dev/st_ino of a
	 * file, st_rdev of a block device (of the opened descriptor); both 0
	 * when unknown (NBD). */
	uint64_t id_dev;
	uint64_t id_ino;
	/* What the endpoint is, for the checkpoint: a digest of its identity
	 * (file: device, inode, birth time; block device: number, WWN/serial or
	 * the loop device's file; NBD: the URI with its export name) and size. */
	uint8_t identity[16];
	void *priv;
};

/* Picks the kind from the name (NBD URI or path) and opens it. */
int rs_endpoint_open(struct resync *r, struct rs_endpoint *ep, const char *name, const char *role,
		     bool write);
void rs_endpoint_close(struct rs_endpoint *ep);

extern const struct rs_endpoint_ops rs_file_ops;
extern const struct rs_endpoint_ops rs_nbd_ops;

/* The target's flush(), remembering a failure on the handle
 * (resync.tgt_flush_failed); a cancel that cut the flush short lost nothing. */
int rs_flush_target(struct rs_endpoint *ep);

#endif
