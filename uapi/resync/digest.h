/* SPDX-License-Identifier: MIT */
/*
 * resync uapi: the digest stream (doc/digest-stream.md).
 *
 * `resync digest SRC` (resync_digest_write()) runs next to a disk and writes
 * one digest per block of it; the far end of a WAN link reads the stream
 * (resync_set_digest_source()), hashes its own target's blocks and copies
 * only blocks whose digests differ.
 *
 * Layout: a header, then data frames covering blocks 0 .. block_count - 1 in
 * order without gaps (each frame header followed by count * digest_size
 * bytes of digests, block first_block first), then one end frame.  All
 * integers are little-endian.  Every checksum is XXH3-64 (seed 0): the
 * header's over the header with the checksum field zeroed; a frame's over its
 * header with the checksum field zeroed, followed by its digests; the end
 * frame's total is XXH3-64 over every digest byte of the stream, in order.
 * The checksums catch corruption and truncation, not an attacker: the link's
 * transport (ssh) is what authenticates the stream.
 * Readers reject an unknown version, hash or frame type, nonzero flags and
 * reserved fields, a frame out of order, and a stream that ends before its
 * end frame: none of it is ever taken as "equal".
 */
#ifndef RESYNC_UAPI_DIGEST_H
#define RESYNC_UAPI_DIGEST_H

#include <stdint.h>

#define RESYNC_DIGEST_MAGIC       "RSYNCDGS" /* 8 bytes, no terminator */
#define RESYNC_DIGEST_VERSION     1u
#define RESYNC_DIGEST_HEADER_SIZE 64u
#define RESYNC_DIGEST_FRAME_SIZE  32u
/* Block sizes a stream may use: powers of two in this range. */
#define RESYNC_DIGEST_MIN_BLOCK   4096u
#define RESYNC_DIGEST_MAX_BLOCK   (64u << 20)
/* Digests in one data frame, at most. */
#define RESYNC_DIGEST_MAX_COUNT   4096u

/* Hash ids.  BLAKE2b is the default: a digest match is taken as "equal", and
 * only a cryptographic hash makes a wrong match (a wrong "Completed")
 * practically impossible.  XXH3-128 is for trusted links, where nobody can
 * craft blocks that collide. */
#define RESYNC_DIGEST_BLAKE2B     1u /* BLAKE2b, 32-byte output, no key */
#define RESYNC_DIGEST_XXH3_128    2u /* XXH3-128, seed 0, 16 bytes as XXH128_canonical_t */

#define RESYNC_DIGEST_FRAME_DATA  1u
#define RESYNC_DIGEST_FRAME_END   2u

struct resync_digest_header {
	uint8_t  magic[8];     /* RESYNC_DIGEST_MAGIC */
	uint32_t version;      /* RESYNC_DIGEST_VERSION */
	uint32_t header_size;  /* RESYNC_DIGEST_HEADER_SIZE */
	uint32_t block_size;   /* bytes per digest; the last block may be shorter */
	uint16_t hash_id;      /* RESYNC_DIGEST_BLAKE2B or RESYNC_DIGEST_XXH3_128 */
	uint16_t digest_size;  /* 32 for BLAKE2b, 16 for XXH3-128 */
	uint64_t device_size;  /* bytes of the disk hashed */
	uint64_t block_count;  /* ceil(device_size / block_size) */
	uint64_t flags;        /* must be zero */
	uint64_t reserved;     /* must be zero */
	uint64_t checksum;     /* XXH3-64, see above */
};

struct resync_digest_frame {
	uint32_t type;         /* RESYNC_DIGEST_FRAME_DATA or _END */
	uint32_t count;        /* data: 1 .. RESYNC_DIGEST_MAX_COUNT digests follow; end: 0 */
	uint64_t first_block;  /* data: the block of the first digest; end: block_count */
	uint64_t total;        /* data: zero; end: XXH3-64 of every digest of the stream */
	uint64_t checksum;     /* XXH3-64, see above */
};

/* The layout is the ABI: a compile error here means it changed. */
typedef char resync_digest_header_size_check
	[sizeof(struct resync_digest_header) == RESYNC_DIGEST_HEADER_SIZE ? 1 : -1];
typedef char resync_digest_frame_size_check
	[sizeof(struct resync_digest_frame) == RESYNC_DIGEST_FRAME_SIZE ? 1 : -1];

#endif
