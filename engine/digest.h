/* SPDX-License-Identifier: MIT */
/*
 * The digest stream (uapi/resync/digest.h) inside the engine: the per-block
 * hashes, and encoding and strict decoding of the stream's header and
 * frames.  The producer is digest_write.c (resync_digest_write()), the
 * consumer digest_compare.c (the digest compare before a compare run's copy).
 */
#ifndef RESYNC_DIGEST_H
#define RESYNC_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* XXH3_state_t on the stack: its size is not part of the stable ABI. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "copy.h"
#include "internal.h"
#include "resync/digest.h"

#define RS_DIGEST_MAX_SIZE 32u

/* The digest size of a hash id, 0 for an unknown one. */
unsigned rs_digest_size(unsigned hash_id);
/* "BLAKE2b" or "XXH3-128" (or "unknown"). */
const char *rs_digest_name(unsigned hash_id);
/* libsodium's one-time setup (picks the fast BLAKE2b); -ENOSYS when it fails. */
int rs_digest_init(struct resync *r);
/* The digest of len bytes (a block, or the shorter last one). */
void rs_digest_block(unsigned hash_id, const void *buf, size_t len, uint8_t *out);

/* Reading and writing whole buffers on a stream descriptor.  Reads wait at
 * most timeout_ms for each piece (-ETIMEDOUT) and see resync_cancel()
 * (-ECANCELED); a stream that ends early is -ENODATA.  Nothing here sets
 * the handle's message: the callers say what they were reading. */
int rs_digest_read(struct resync *r, int fd, void *buf, size_t n, uint32_t timeout_ms);
int rs_digest_write_all(int fd, const void *buf, size_t n);

void rs_digest_header_encode(struct resync_digest_header *h, uint32_t block_size, unsigned hash_id,
			     uint64_t device_size);
/* Validates a header as read: 0, or a negative errno with the handle's
 * message naming the fault (-EBADMSG bad magic or checksum, -EPROTO an
 * unknown version, -EINVAL a bad field). */
int rs_digest_header_check(struct resync *r, const struct resync_digest_header *raw,
			   struct resync_digest_header *out);

/* A frame header in host order; encode also computes its checksum over
 * the digests that follow it. */
void rs_digest_frame_encode(struct resync_digest_frame *f, uint32_t type, uint32_t count,
			    uint64_t first_block, uint64_t total, const void *digests,
			    size_t digest_bytes);
/* The frame's checksum as read (raw, little-endian) against its digests:
 * true when it matches. */
bool rs_digest_frame_sum_ok(const struct resync_digest_frame *raw, const void *digests,
			    size_t digest_bytes);
void rs_digest_frame_decode(const struct resync_digest_frame *raw, struct resync_digest_frame *out);

/* The digest compare: reads the stream from r->digest_fd, hashes the
 * target's blocks that p->todo holds (not those known to read as zeroes on
 * the source: the copy compares those locally) and clears from p->todo
 * every block whose digest matches.  Unless it is a dry run, blocks whose
 * digests differ are copied from src as they are found (and cleared too),
 * and flushed before it returns.  The whole stream is read and validated
 * before it returns 0; on failure p->todo must not be used. */
int rs_digest_compare(struct resync *r, struct rs_ring *rg, struct rs_buffers *bufs,
		      struct rs_endpoint *src, struct rs_endpoint *tgt, struct rs_plan *p,
		      uint32_t request);

#endif
