/* SPDX-License-Identifier: MIT */
/*
 * resync uapi: the on-disk change bitmap.
 *
 * A change bitmap records which blocks of a disk may differ from a common
 * base.  It is also the format of the engine's checkpoint (the blocks that
 * remain to be copied), flagged RESYNC_BITMAP_F_CHECKPOINT.
 *
 * Layout: this header (RESYNC_BITMAP_HEADER_SIZE bytes), then bitmap_bytes
 * bytes of bits, bit i (byte i / 8, bit i % 8, LSB first) covering bytes
 * [i * granularity, (i + 1) * granularity) of the disk.  All integers are
 * little-endian.  checksum is XXH64 (seed 0) over the header with the checksum
 * field zeroed, followed by the bits.  Bits past the last block are zero.
 * Readers reject an unknown version, unknown flags, nonzero reserved fields.
 */
#ifndef RESYNC_UAPI_CHANGE_BITMAP_H
#define RESYNC_UAPI_CHANGE_BITMAP_H

#include <stdint.h>

#define RESYNC_BITMAP_MAGIC       "RSYNCBMP"  /* 8 bytes, no terminator on disk */
#define RESYNC_BITMAP_VERSION     1u
#define RESYNC_BITMAP_HEADER_SIZE 128u
#define RESYNC_BITMAP_MIN_GRANULARITY 512u
#define RESYNC_BITMAP_MAX_GRANULARITY (1u << 30)

/* The change record was closed cleanly: its bits can be trusted. */
#define RESYNC_BITMAP_F_CONSISTENT (1ULL << 0)
/* The file is an engine checkpoint: set bits are blocks still to copy. */
#define RESYNC_BITMAP_F_CHECKPOINT (1ULL << 1)
#define RESYNC_BITMAP_F_ALL        (RESYNC_BITMAP_F_CONSISTENT | RESYNC_BITMAP_F_CHECKPOINT)

struct resync_bitmap_header {
	uint8_t  magic[8];          /* RESYNC_BITMAP_MAGIC */
	uint32_t version;           /* RESYNC_BITMAP_VERSION */
	uint32_t header_size;       /* RESYNC_BITMAP_HEADER_SIZE */
	uint64_t flags;             /* RESYNC_BITMAP_F_* */
	uint64_t device_size;       /* bytes covered */
	uint32_t granularity;       /* bytes per bit, power of two, 512 .. 1 GiB */
	uint32_t reserved0;         /* must be zero */
	uint64_t bitmap_bytes;      /* ceil(ceil(device_size / granularity) / 8) */
	uint8_t  generation_id[16]; /* the base generation this record is relative to;
				     * checkpoints: the engine's record for checking
				     * disk_id again (engine/checkpoint.h) */
	uint8_t  disk_id[16];       /* which disk; checkpoints: which copy job (a digest of
				     * what its endpoints and change record are) */
	uint64_t checksum;          /* XXH64, see above */
	uint64_t reserved[5];       /* must be zero */
};

/* The layout is the ABI: a compile error here means it changed.  (An array
 * of negative size rather than static_assert, so C89 and C99 compile it.) */
typedef char resync_bitmap_header_size_check
	[sizeof(struct resync_bitmap_header) == RESYNC_BITMAP_HEADER_SIZE ? 1 : -1];

#endif
