/* SPDX-License-Identifier: MIT */
/*
 * Which blocks verify re-reads after the copy is flushed: the planned blocks,
 * every block, or the planned ones plus a random sample of the others.  The
 * sample is how a change record that missed a change is caught without
 * reading the whole disk.
 */
#ifndef RESYNC_VERIFY_H
#define RESYNC_VERIFY_H

#include "bitmap.h"
#include "internal.h"

/* The sample's seed, from getrandom(): taken before the copy writes
 * anything, so a system without it fails the run up front.  0, or a
 * negative errno with the message set on r (never an all-zero seed). */
int rs_verify_seed(struct resync *r, uint64_t seed[4]);

/* A new bitmap (planned's geometry) of the blocks to verify for mode how:
 * FULL every block, PLANNED a copy of planned, SAMPLE planned plus
 * min(unplanned, max(sample_min, ceil(sample_per_gib * size / GiB))) blocks
 * drawn uniformly without replacement from the unplanned ones with the
 * generator seeded by seed.  0, or a negative errno with the message set on
 * r. */
int rs_verify_blocks(struct resync *r, enum resync_verify how, const struct resync_bitmap *planned,
		     const uint64_t seed[4], struct resync_bitmap **out);

#endif
