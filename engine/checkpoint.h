/* SPDX-License-Identifier: MIT */
/*
 * Durable progress: the plan's todo bitmap saved as a change bitmap flagged
 * RESYNC_BITMAP_F_CHECKPOINT.  Saved only after the target was flushed, so
 * every cleared bit is on stable storage.
 *
 * A checkpoint is bound to what the run's endpoints are, not to their names:
 * its disk_id is a digest of the source's and the target's identity (see
 * rs_probe_identity; NBD: URI and size), the sizes, the mode, the block size,
 * the change record (a bitmap's content, generation and flags; an extent
 * list's content; a dirty bitmap's name) and a content fingerprint of the
 * source (a few fixed and random blocks, read through the endpoint's own
 * asynchronous path).  Its generation_id holds what is needed to check it
 * again and to say which part differs:
 *   byte 0      RS_CHECKPOINT_RECORD_VERSION
 *   bytes 1-7   the fingerprint's seed (which random blocks), little-endian
 *   bytes 8-15  four 16-bit tags: source, target, decision, content
 * Resuming needs every part equal; otherwise the run starts over and the
 * checkpoint is overwritten, the reason kept for resync_resume_refused().
 */
#ifndef RESYNC_CHECKPOINT_H
#define RESYNC_CHECKPOINT_H

#include "plan.h"
#include "ring.h"

#define RS_CHECKPOINT_RECORD_VERSION 1
/* Blocks of the source the fingerprint reads: first, middle and last, and
 * this many more at random places chosen when the checkpoint is made. */
#define RS_FINGERPRINT_RANDOM 5

/* Decides p->todo from the checkpoint at path and fills p->identity and
 * p->record: 1 when it is resumed (*out set), 0 when there is none or it
 * belongs to another copy (the reason recorded, stats.resume_refused set).
 * -EEXIST for a file that is not a checkpoint; another negative errno when
 * it cannot be read or the source's fingerprint cannot be taken.  change:
 * the loaded change bitmap in bitmap mode, else NULL. */
int rs_checkpoint_load(struct resync *r, const char *path, struct rs_ring *rg,
		       struct rs_endpoint *src, const struct rs_endpoint *tgt,
		       const struct resync_bitmap *change, struct rs_plan *p,
		       struct resync_bitmap **out);
int rs_checkpoint_save(struct resync *r, const char *path, struct rs_plan *p);
int rs_checkpoint_remove(struct resync *r, const char *path);

#endif
