/* SPDX-License-Identifier: MIT */
/* The change bitmap in memory: block-indexed helpers for the planner and the
 * copy loop, behind the public resync_bitmap_* calls. */
#ifndef RESYNC_BITMAP_H
#define RESYNC_BITMAP_H

#include <stdbool.h>
#include <stdint.h>
#include "resync/resync.h"
#include "resync/change_bitmap.h"

/* The most blocks a bitmap holds (4 GiB of bits): a 16 TiB disk at 512-byte
 * granularity, 2 PiB at 64 KiB.  More is refused with -EOVERFLOW rather than
 * attempted: the arithmetic stays far from 2^64 and the allocation within
 * what an allocator can return. */
#define RS_BM_MAX_BLOCKS (1ull << 35)

struct resync_bitmap {
	uint64_t device_size;
	uint32_t granularity;
	unsigned shift; /* log2(granularity) */
	uint64_t flags;
	uint8_t generation[16];
	uint8_t disk_id[16];
	uint64_t nblocks;
	uint64_t nwords;
	uint64_t *words;
};

static inline bool rs_bm_test(const struct resync_bitmap *b, uint64_t blk)
{
	return (b->words[blk >> 6] >> (blk & 63)) & 1;
}

static inline void rs_bm_clear_blk(struct resync_bitmap *b, uint64_t blk)
{
	b->words[blk >> 6] &= ~(1ull << (blk & 63));
}

/* Sets or clears blocks [first, first + n). */
void rs_bm_set_blocks(struct resync_bitmap *b, uint64_t first, uint64_t n);
void rs_bm_clear_blocks(struct resync_bitmap *b, uint64_t first, uint64_t n);
/* The first set (or clear) block at or after blk; nblocks when none. */
uint64_t rs_bm_next_set(const struct resync_bitmap *b, uint64_t blk);
uint64_t rs_bm_next_clear(const struct resync_bitmap *b, uint64_t blk);
uint64_t rs_bm_count(const struct resync_bitmap *b);
/* Marks, clears or clips on blocks whose whole span lies inside [off, off+len). */
void rs_bm_clear_inner(struct resync_bitmap *b, uint64_t off, uint64_t len);
void rs_bm_set_inner(struct resync_bitmap *b, uint64_t off, uint64_t len);

#endif
