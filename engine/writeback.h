/* SPDX-License-Identifier: MIT */
/*
 * The writeback window of a buffered target (ep_file.c): each written range
 * is handed to writeback at once (sync_file_range WRITE) and queued here;
 * while more than window bytes are queued, the oldest range is taken out to
 * be waited for (WAIT_BEFORE | WRITE | WAIT_AFTER), then dropped from the
 * page cache (POSIX_FADV_DONTNEED).  So the target's dirty and
 * under-writeback pages, and the pages its writes put in the cache, stay
 * within window + 2 x depth x request: the window, the ranges being waited
 * for or dropped (one per request at most) and the writes not yet handed
 * over.  What a compare or verify reads of a buffered target stays cached.
 */
#ifndef RESYNC_WRITEBACK_H
#define RESYNC_WRITEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_wb_range {
	uint64_t off, len;
};

struct rs_writeback {
	uint64_t window;
	uint64_t queued; /* bytes handed to writeback and not taken out */
	struct rs_wb_range *q;
	size_t cap, head, n;
};

void rs_wb_init(struct rs_writeback *w, uint64_t window);
void rs_wb_free(struct rs_writeback *w);
/* Queues a range handed to writeback: 0, -ENOMEM. */
int rs_wb_push(struct rs_writeback *w, uint64_t off, uint64_t len);
/* While more than the window is queued: true with the oldest range taken
 * out into *out, to be waited for. */
bool rs_wb_pop_over(struct rs_writeback *w, struct rs_wb_range *out);

#endif
