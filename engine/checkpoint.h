/* SPDX-License-Identifier: MIT */
/*
 * Durable progress: the plan's todo bitmap saved as a change bitmap flagged
 * RESYNC_BITMAP_F_CHECKPOINT, its disk_id the run's identity.  Saved only
 * after the target was flushed, so every cleared bit is on stable storage.
 */
#ifndef RESYNC_CHECKPOINT_H
#define RESYNC_CHECKPOINT_H

#include "plan.h"

/* Loads the checkpoint at path into *out if it exists (1), or 0 when there is
 * none.  A checkpoint of another run (identity, size or block) is -ESTALE. */
int rs_checkpoint_load(struct resync *r, const char *path, const struct rs_plan *p,
		       struct resync_bitmap **out);
int rs_checkpoint_save(struct resync *r, const char *path, struct rs_plan *p);
int rs_checkpoint_remove(struct resync *r, const char *path);
/* The identity of a run: its endpoints and what decides the blocks. */
void rs_checkpoint_identity(const struct resync *r, uint8_t id[16]);

#endif
