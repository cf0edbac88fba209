/* SPDX-License-Identifier: MIT */
/* The copy's slot buffers: one aligned allocation of request-size buffers,
 * registered with the ring when RLIMIT_MEMLOCK allows.  A copying slot uses
 * one, a comparing slot two (copy.c). */
#ifndef RESYNC_BUFFERS_H
#define RESYNC_BUFFERS_H

#include <stdbool.h>
#include <stdint.h>
#include "internal.h"
#include "ring.h"

struct rs_buffers {
	char *mem; /* n buffers of size bytes, 4096-aligned */
	uint32_t size;
	unsigned n;
	bool registered; /* buffer i is the ring's fixed buffer i */
};

/* n registered, aligned buffers of request bytes for a ring: 0, or -ENOMEM
 * with the handle's error set. */
int rs_buffers_new(struct resync *r, struct rs_ring *rg, unsigned n, uint32_t request,
		   struct rs_buffers **out);
/* Accepts NULL. */
void rs_buffers_free(struct rs_buffers *b);

#endif
