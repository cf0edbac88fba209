/* SPDX-License-Identifier: MIT */
/*
 * The tracking log (uapi/resync/track_log.h) in memory: geometry, reading
 * with recovery of an unclean close, and encoding of its header, slots and
 * body blocks.  Self-contained (libc and xxhash only) so the nbdkit filter
 * links it without the rest of the engine; the filter does its own I/O
 * ordering, this unit only knows the format.  Calls return 0 or a negative
 * errno and leave a reason in t->error.
 */
#ifndef RESYNC_TRACK_LOG_H
#define RESYNC_TRACK_LOG_H

#include <stdint.h>
#include "resync/track_log.h"

struct rc_track {
	uint64_t device_size;
	uint32_t granularity;
	uint32_t region_size;
	uint64_t nbits; /* blocks of granularity bytes */
	uint64_t bits_per_region;
	uint64_t region_count;
	uint64_t slot_size;
	uint64_t bitmap_bytes;
	uint64_t body_blocks;
	uint64_t flags;             /* RESYNC_TRACK_F_* of the current slot */
	uint64_t sequence;          /* of the current slot; 0 before any */
	uint64_t recovered_regions; /* as recorded in the current slot */
	uint64_t recovered_now;     /* hot regions merged by rc_track_read */
	uint8_t generation[16];
	uint8_t disk_id[16];
	uint8_t *bits; /* body_blocks * BLOCK_BITS_BYTES bytes */
	uint8_t *hot;  /* the activity log, hot_bytes bytes */
	uint64_t hot_bytes;
	const char *error;
};

/* Sets the geometry and allocates empty bits and activity log.  region_size
 * 0 means the default; a region smaller than the granularity grows to it. */
int rc_track_init(struct rc_track *t, uint64_t device_size, uint32_t granularity,
		  uint32_t region_size);
void rc_track_fini(struct rc_track *t);

/* Reads a whole log from fd into a zeroed t.  A log left open has every hot
 * region's bits set (recovered_now says how many regions) and keeps its
 * activity log; checksum failures outside that case fail with -EBADMSG. */
int rc_track_read(struct rc_track *t, int fd);

/* Writes the whole log to path durably (temp file, fsync, rename): header,
 * slot 0 with t's flags, sequence 1 and activity log, slot 1 invalid, the
 * body.  t->sequence becomes 1. */
int rc_track_write_new(struct rc_track *t, const char *path, int mode);

/* Byte offsets of slot (sequence & 1) and of body block k. */
uint64_t rc_track_slot_offset(const struct rc_track *t, uint64_t sequence);
uint64_t rc_track_block_offset(const struct rc_track *t, uint64_t k);
/* Encodes a slot (slot_size bytes) and body block k. */
void rc_track_encode_slot(const struct rc_track *t, uint64_t sequence, uint64_t flags,
			  const uint8_t *hot, void *buf);
void rc_track_encode_block(const struct rc_track *t, uint64_t k, struct resync_track_block *out);

/* Bits [first, first + n) set; the blocks of disk range [off, off + len)
 * (clipped to the device) set. */
void rc_track_set_bits(uint8_t *bits, uint64_t first, uint64_t n);
void rc_track_mark(struct rc_track *t, uint64_t off, uint64_t len);
/* Sets the bits of every hot region; returns how many regions were hot. */
uint64_t rc_track_merge_hot(struct rc_track *t);
/* Body blocks holding bits of region r: [*first, *first + *n). */
void rc_track_region_blocks(const struct rc_track *t, uint64_t r, uint64_t *first, uint64_t *n);

static inline int rc_track_test(const uint8_t *bits, uint64_t i)
{
	return (bits[i >> 3] >> (i & 7)) & 1;
}

#endif
