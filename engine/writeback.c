/* SPDX-License-Identifier: MIT */
/* The writeback window's queue (writeback.h): a growable ring of ranges. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "writeback.h"

void rs_wb_init(struct rs_writeback *w, uint64_t window)
{
	memset(w, 0, sizeof *w);
	w->window = window;
}

void rs_wb_free(struct rs_writeback *w)
{
	free(w->q);
	memset(w, 0, sizeof *w);
}

int rs_wb_push(struct rs_writeback *w, uint64_t off, uint64_t len)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct rs_wb_range *q = malloc(cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		/* Unrolled oldest first, so the ring starts at 0 again. */
		for (size_t i = 0; i < w->n; i++)
			q[i] = w->q[(w->head + i) % w->cap];
		free(w->q);
		w->q = q;
		w->cap = cap;
		w->head = 0;
	}
	w->q[(w->head + w->n) % w->cap] = (struct rs_wb_range){ off, len };
	w->n++;
	w->queued += len;
	return 0;
}

bool rs_wb_pop_over(struct rs_writeback *w, struct rs_wb_range *out)
{
	if (w->queued <= w->window || !w->n)
		return false;
	*out = w->q[w->head];
	w->head = (w->head + 1) % w->cap;
	w->n--;
	w->queued -= out->len;
	return true;
}
