/* SPDX-License-Identifier: MIT */
/*
 * The plan: which blocks remain to be copied (also the checkpoint's content),
 * and which blocks are known to read as zeroes on each side, so the copy loop
 * issues no allocation queries of its own.  Every extent source (full range,
 * extent list, change bitmap, NBD dirty bitmap, checkpoint) becomes the same
 * block bitmap here.
 */
#ifndef RESYNC_PLAN_H
#define RESYNC_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include "bitmap.h"
#include "endpoint.h"

struct rs_digests;

struct rs_plan {
	uint32_t block; /* granularity of the three bitmaps */
	uint64_t size;  /* source size */
	struct resync_bitmap *todo;
	struct resync_bitmap *src_zero; /* NULL: nothing known */
	struct resync_bitmap *tgt_zero; /* NULL: nothing known */
	/* Every block the mode named, including those a resumed checkpoint had
	 * retired; kept only when verify follows (NULL otherwise).  A verify
	 * pass reads it as "the plan": a difference outside it means the change
	 * record missed a change. */
	struct resync_bitmap *planned;
	/* XXH3-128 of the source data the copy read, per planned block, so
	 * verify reads only the target there (copy.h); NULL: none. */
	struct rs_digests *digests;
	uint8_t identity[16]; /* ties a checkpoint to its endpoints and mode */
	uint8_t record[16];   /* and how to check it again (checkpoint.h) */
	int resumed;
	bool progress; /* retiring counts as bytes_done (not for verify) */
};

/* Builds todo from the mode's extent source, or from the checkpoint when one
 * exists for the same identity (its source fingerprint read through rg, to
 * which the endpoints are attached); then the zero maps.  The block size is the
 * caller's, raised to a change bitmap's granularity and the endpoints'
 * alignment, and so that one bitmap stays within 32 MiB. */
int rs_plan_build(struct resync *r, struct rs_ring *rg, struct rs_endpoint *src,
		  struct rs_endpoint *tgt, struct rs_plan *p);
/* A plan over todo (taken over, freed on failure too) with both sides' zero
 * maps, for verify. */
int rs_plan_from(struct resync *r, struct rs_endpoint *src, struct rs_endpoint *tgt, uint32_t block,
		 struct resync_bitmap *todo, struct rs_plan *p);
void rs_plan_free(struct rs_plan *p);

/* Parses an extent list (common/parse_size.h: "offset length" lines, #
 * comments, decimal or 0x hex, K/M/G/T suffixes) and calls fn for each;
 * messages name the line.  -EINVAL for a malformed line, -ERANGE for a number
 * above 2^64 - 1 or an extent past size. */
int rs_extent_list_read(struct resync *r, const char *path, uint64_t size, rs_extent_fn fn,
			void *arg);

#endif
