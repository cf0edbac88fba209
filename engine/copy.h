/* SPDX-License-Identifier: MIT */
/*
 * The copy loop: walks the plan, keeps up to queue-depth slots in flight on
 * the ring, and per slot reads the source (and, comparing, the target),
 * classifies each block (equal, zero, data) and writes what the target lacks.
 * Retired blocks are cleared from the plan; the checkpoint is persisted after
 * flushing the target.
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

/* Runs a pass over p.  Returns 0, -ECANCELED, -EILSEQ (a difference in a
 * compare or verify pass), or the first failure's negative errno. */
int rs_copy_pass(struct resync *r, enum rs_pass pass, struct rs_ring *rg, struct rs_buffers *bufs,
		 struct rs_endpoint *src, struct rs_endpoint *tgt, struct rs_plan *p,
		 uint32_t request);

#endif
