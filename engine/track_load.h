/* SPDX-License-Identifier: MIT */
/* The engine reading a tracking log (common/track_log.h) as a change bitmap. */
#ifndef RESYNC_TRACK_LOAD_H
#define RESYNC_TRACK_LOAD_H

#include "bitmap.h"
#include "resync/track_log.h"

/* The log at path as a change bitmap, recovered in memory when left open (a
 * trusted over-approximation, so flagged consistent).  *why says what failed. */
int rs_track_load_bitmap(struct resync_bitmap **out, const char *path, const char **why);

#endif
