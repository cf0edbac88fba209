/* SPDX-License-Identifier: MIT */
/*
 * resync uapi: the tracking log, a change bitmap updated in place.
 *
 * The v1 change bitmap (change_bitmap.h) is written whole, with one checksum
 * over the file: right for a record written once, wrong for one that a
 * server updates while it serves writes.  The tracking log is the in-place
 * form, written by nbdkit-resync-track-filter and read by everything that
 * reads a v1 bitmap.  doc/track-log.md describes the protocol; in short:
 *
 * File layout, every part a multiple of RESYNC_TRACK_ALIGN bytes:
 *   [0, 4096)                             the header, written only whole
 *                                         (new file, rotation, reset: by rename)
 *   [4096, 4096 + slot_size)              log slot 0
 *   [4096 + slot_size, 4096 + 2 * slot_size)  log slot 1
 *   [4096 + 2 * slot_size, ...)           body_blocks bitmap blocks of 4096 bytes
 * The header's checksum is XXH64 (seed 0) over struct resync_track_header
 * with the checksum field zeroed; the rest of its 4096 bytes is zero.
 * A log slot is struct resync_track_slot followed by the activity log:
 * ceil(region_count / 8) bytes, bit r (byte r / 8, bit r % 8, LSB first) set
 * when region r (bytes [r * region_size, (r + 1) * region_size) of the disk)
 * is hot, then zeros to slot_size.  The slot's checksum is XXH64 (seed 0)
 * over the whole slot with the checksum field zeroed.  Writers alternate
 * slots and bump sequence; the valid slot with the highest sequence is
 * current, so a torn slot write leaves the previous slot in charge.
 *
 * The bitmap: bit i (LSB first, as in v1) covers bytes [i * granularity,
 * (i + 1) * granularity) of the disk; it is cut into pieces of
 * RESYNC_TRACK_BLOCK_BITS_BYTES bytes, piece k stored in body block k with
 * its index and an XXH64 (seed 0) over index and bits.  Bits past the last
 * block of the disk are zero.
 *
 * The rule that keeps it crash-safe: a write reaches the disk only after its
 * region is hot in a durable slot; a region leaves the activity log only
 * after its bits are durable in the body.  So after any crash, every written
 * block has its bit set or lies in a hot region of the current slot.  A file
 * with RESYNC_TRACK_F_OPEN set was not closed cleanly: its reader sets every
 * bit of every hot region (and the filter records RESYNC_TRACK_F_RECOVERED).
 * A body block whose checksum fails is a torn write only when the file is
 * open and the block holds bits of a hot region (the bits that changed); any
 * other checksum failure means the file cannot be trusted and is refused.
 *
 * All integers are little-endian.  Readers reject an unknown version,
 * unknown flags and nonzero reserved fields.
 */
#ifndef RESYNC_UAPI_TRACK_LOG_H
#define RESYNC_UAPI_TRACK_LOG_H

#include <stdint.h>

#define RESYNC_TRACK_MAGIC          "RSYNCTRK"  /* 8 bytes, no terminator on disk */
#define RESYNC_TRACK_VERSION        1u
#define RESYNC_TRACK_SLOT_MAGIC     "RSTRKLOG"
#define RESYNC_TRACK_HEADER_SIZE    256u
#define RESYNC_TRACK_SLOT_SIZE      64u
#define RESYNC_TRACK_ALIGN          4096u
#define RESYNC_TRACK_BLOCK_SIZE     4096u
#define RESYNC_TRACK_BLOCK_BITS_BYTES (RESYNC_TRACK_BLOCK_SIZE - 16u)
#define RESYNC_TRACK_DEFAULT_REGION (4u << 20)
/* Granularity limits are v1's: RESYNC_BITMAP_MIN/MAX_GRANULARITY.  A region
 * is a power of two no smaller than the granularity, at most 1 GiB. */
#define RESYNC_TRACK_MAX_REGION     (1u << 30)

/* A writer has the file open; not closed cleanly if nobody else does. */
#define RESYNC_TRACK_F_OPEN       (1ULL << 0)
/* Hot regions of an unclean close were merged into the bits. */
#define RESYNC_TRACK_F_RECOVERED  (1ULL << 1)
#define RESYNC_TRACK_F_ALL        (RESYNC_TRACK_F_OPEN | RESYNC_TRACK_F_RECOVERED)

struct resync_track_header {
	uint8_t  magic[8];          /* RESYNC_TRACK_MAGIC */
	uint32_t version;           /* RESYNC_TRACK_VERSION */
	uint32_t header_size;       /* RESYNC_TRACK_HEADER_SIZE */
	uint64_t device_size;       /* bytes covered */
	uint32_t granularity;       /* bytes per bit, power of two, 512 .. 1 GiB */
	uint32_t region_size;       /* bytes per activity-log region, see above */
	uint64_t region_count;      /* ceil(device_size / region_size) */
	uint64_t slot_size;         /* round_up(SLOT_SIZE + ceil(region_count / 8), ALIGN) */
	uint64_t bitmap_bytes;      /* ceil(ceil(device_size / granularity) / 8) */
	uint64_t body_blocks;       /* ceil(bitmap_bytes / BLOCK_BITS_BYTES) */
	uint8_t  generation_id[16]; /* the base generation this record is relative to */
	uint8_t  disk_id[16];       /* which disk */
	uint64_t checksum;          /* XXH64 of this struct, see above */
	uint64_t reserved[19];      /* must be zero */
};

struct resync_track_slot {
	uint8_t  magic[8];          /* RESYNC_TRACK_SLOT_MAGIC */
	uint64_t flags;             /* RESYNC_TRACK_F_* */
	uint64_t sequence;          /* higher wins between the two slots */
	uint64_t recovered_regions; /* hot regions merged by the last recovery */
	uint64_t checksum;          /* XXH64 of the slot, see above */
	uint64_t reserved[3];       /* must be zero */
};

struct resync_track_block {
	uint64_t checksum;          /* XXH64 of index and bits */
	uint64_t index;             /* this block's number in the body */
	uint8_t  bits[RESYNC_TRACK_BLOCK_BITS_BYTES];
};

/* The layout is the ABI: a compile error here means it changed. */
typedef char resync_track_header_size_check
	[sizeof(struct resync_track_header) == RESYNC_TRACK_HEADER_SIZE ? 1 : -1];
typedef char resync_track_slot_size_check
	[sizeof(struct resync_track_slot) == RESYNC_TRACK_SLOT_SIZE ? 1 : -1];
typedef char resync_track_block_size_check
	[sizeof(struct resync_track_block) == RESYNC_TRACK_BLOCK_SIZE ? 1 : -1];

#endif
