/* SPDX-License-Identifier: MIT */
/*
 * The copy loop: walks the plan, keeps up to queue-depth slots in flight on
 * the ring, and per slot reads the source (and, comparing, the target),
 * classifies each block (equal, zero, data) and writes what the target lacks.
 * Retired blocks are cleared from the plan; the checkpoint is persisted after
 * flushing the target (with writes still in flight when the target's flush
 * allows: only what completed before it is retired in it).
 */
#ifndef RESYNC_COPY_H
#define RESYNC_COPY_H

#include <stdbool.h>
#include "endpoint.h"
#include "plan.h"

enum rs_pass {
	RS_PASS_COPY,       /* write what differs (mode decides whether to read the target) */
	RS_PASS_COMPARE,    /* read both, count differences, write nothing */
	RS_PASS_FIRST_DIFF, /* read both, stop at the first difference */
	/* After the copy: read both, count bytes_verified, stop at the first
	 * difference outside p->planned (verify_unplanned_diff) */
	RS_PASS_VERIFY
};

struct rs_buffers;

/* What verify needs to check the target without reading the source again:
 * the copy pass records an XXH3-128 of the source data it read for each
 * planned block, and the verify pass compares the target's block with it, so
 * it proves the target holds exactly what was read from the source.  Stored
 * densely by rank among the planned blocks (16 bytes each) and only when that
 * stays within RS_DIGEST_CAP; above it, and for blocks without a digest
 * (a resumed run's earlier blocks, blocks the source held as zeroes, the
 * sample outside the plan), verify reads both sides. */
#define RS_DIGEST_CAP (16u << 20)

struct rs_digests {
	const struct resync_bitmap *planned;
	uint64_t *rank;             /* planned blocks before each word of planned */
	struct resync_bitmap *have; /* blocks whose digest is recorded */
	unsigned char (*h)[16];
};

/* 0 with *out a table for planned (which must outlive it), or NULL when it
 * would exceed RS_DIGEST_CAP; -ENOMEM. */
int rs_digests_new(const struct resync_bitmap *planned, struct rs_digests **out);
/* The bytes rs_digests_new() takes for planned (0: no table). */
uint64_t rs_digests_bytes(const struct resync_bitmap *planned);
void rs_digests_free(struct rs_digests *d);

/* Runs a pass over p.  Returns 0, -ECANCELED, -EILSEQ (a difference in a
 * compare or verify pass), or the first failure's negative errno. */
int rs_copy_pass(struct resync *r, enum rs_pass pass, struct rs_ring *rg, struct rs_buffers *bufs,
		 struct rs_endpoint *src, struct rs_endpoint *tgt, struct rs_plan *p,
		 uint32_t request);

#endif
