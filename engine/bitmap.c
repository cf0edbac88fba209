/* SPDX-License-Identifier: MIT */
/* The change bitmap: in-memory operations and the uapi file format. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* The checksum streams header and bits: with the implementation inlined
 * its state lives on the stack, so no allocation can fail into a checksum
 * of 0. */
#define XXH_INLINE_ALL
#include <xxhash.h>
#include "bitmap.h"
#include "durable.h"
#include "internal.h"
#include "track_load.h"
#include "pread_full.h"

static _Thread_local const char *load_error = "";

const char *resync_bitmap_load_error(void)
{
	return load_error;
}

/* ceil(size / g) without the overflow of size + g - 1 near 2^64. */
static uint64_t blocks_for(uint64_t size, uint32_t g)
{
	return size / g + (size % g != 0);
}

int resync_bitmap_new(resync_bitmap **out, uint64_t device_size, uint32_t granularity)
{
	if (!out || !rs_is_pow2(granularity) || granularity < RESYNC_BITMAP_MIN_GRANULARITY ||
	    granularity > RESYNC_BITMAP_MAX_GRANULARITY)
		return -EINVAL;
	if (blocks_for(device_size, granularity) > RS_BM_MAX_BLOCKS)
		return -EOVERFLOW;
	struct resync_bitmap *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->device_size = device_size;
	b->granularity = granularity;
	b->shift = (unsigned)__builtin_ctz(granularity);
	b->nblocks = blocks_for(device_size, granularity);
	b->nwords = (b->nblocks + 63) / 64;
	b->words = calloc(b->nwords ? b->nwords : 1, sizeof *b->words);
	if (!b->words) {
		free(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

void resync_bitmap_free(resync_bitmap *b)
{
	if (!b)
		return;
	free(b->words);
	free(b);
}

static uint64_t bitmap_bytes(const struct resync_bitmap *b)
{
	return (b->nblocks + 7) / 8;
}

/* The on-disk header, little-endian, with the checksum field zero. */
static void encode_header(const struct resync_bitmap *b, struct resync_bitmap_header *h)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, RESYNC_BITMAP_MAGIC, sizeof h->magic);
	h->version = htole32(RESYNC_BITMAP_VERSION);
	h->header_size = htole32(RESYNC_BITMAP_HEADER_SIZE);
	h->flags = htole64(b->flags);
	h->device_size = htole64(b->device_size);
	h->granularity = htole32(b->granularity);
	h->bitmap_bytes = htole64(bitmap_bytes(b));
	memcpy(h->generation_id, b->generation, 16);
	memcpy(h->disk_id, b->disk_id, 16);
}

static void words_to_le(uint64_t *w, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		w[i] = htole64(w[i]);
}

static void words_from_le(uint64_t *w, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		w[i] = le64toh(w[i]);
}

static uint64_t checksum(const struct resync_bitmap_header *h, const void *bits, uint64_t n)
{
	XXH64_state_t st;
	XXH64_reset(&st, 0);
	XXH64_update(&st, h, sizeof *h);
	XXH64_update(&st, bits, (size_t)n);
	return XXH64_digest(&st);
}

int resync_bitmap_save(const resync_bitmap *b, const char *path)
{
	struct resync_bitmap_header h;
	encode_header(b, &h);
	/* Converting in place and back keeps a 1 TiB plan from needing a copy. */
	words_to_le(b->words, b->nwords);
	h.checksum = htole64(checksum(&h, b->words, bitmap_bytes(b)));
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof h },
		{ .iov_base = b->words, .iov_len = (size_t)bitmap_bytes(b) },
	};
	int ret = rc_write_durable(AT_FDCWD, path, iov, 2, 0600);
	words_from_le(b->words, b->nwords);
	return ret;
}

static int fail_load(int err, const char *why)
{
	load_error = why;
	return err;
}

static int validate_header(const struct resync_bitmap_header *h, uint64_t file_size)
{
	if (memcmp(h->magic, RESYNC_BITMAP_MAGIC, sizeof h->magic))
		return fail_load(-EBADMSG, "bad magic (not a resync change bitmap)");
	if (le32toh(h->version) != RESYNC_BITMAP_VERSION)
		return fail_load(-EPROTO, "unsupported version");
	if (le32toh(h->header_size) != RESYNC_BITMAP_HEADER_SIZE)
		return fail_load(-EINVAL, "bad header size");
	if (le64toh(h->flags) & ~RESYNC_BITMAP_F_ALL)
		return fail_load(-EINVAL, "unknown flags");
	if (h->reserved0)
		return fail_load(-EINVAL, "reserved field not zero");
	for (size_t i = 0; i < sizeof h->reserved / sizeof h->reserved[0]; i++)
		if (h->reserved[i])
			return fail_load(-EINVAL, "reserved field not zero");
	uint32_t g = le32toh(h->granularity);
	if (!rs_is_pow2(g) || g < RESYNC_BITMAP_MIN_GRANULARITY ||
	    g > RESYNC_BITMAP_MAX_GRANULARITY)
		return fail_load(-EINVAL,
				 "granularity is not a power of two between 512 and 1 GiB");
	uint64_t nblocks = blocks_for(le64toh(h->device_size), g);
	if (nblocks > RS_BM_MAX_BLOCKS)
		return fail_load(-EOVERFLOW, "more blocks than a bitmap may hold (2^35): "
					     "device size too large for the granularity");
	if (le64toh(h->bitmap_bytes) != (nblocks + 7) / 8)
		return fail_load(-EINVAL,
				 "bitmap length does not match device size and granularity");
	uint64_t want = RESYNC_BITMAP_HEADER_SIZE + le64toh(h->bitmap_bytes);
	if (file_size < want)
		return fail_load(-ENODATA, "file is shorter than its header says (truncated)");
	if (file_size > want)
		return fail_load(-EFBIG, "file is longer than its header says");
	return 0;
}

int resync_bitmap_load(resync_bitmap **out, const char *path)
{
	load_error = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_load(-errno, "cannot open");
	struct stat st;
	struct resync_bitmap_header h;
	struct resync_bitmap *b = NULL;
	int ret = fstat(fd, &st) ? -errno : 0;
	if (!ret && (uint64_t)st.st_size < sizeof h)
		ret = fail_load(-ENODATA, "file is shorter than the header");
	if (!ret)
		ret = rc_pread_full(fd, &h, sizeof h, 0);
	if (!ret && !memcmp(h.magic, RESYNC_TRACK_MAGIC, sizeof h.magic)) {
		close(fd);
		return rs_track_load_bitmap(out, path, &load_error);
	}
	if (!ret)
		ret = validate_header(&h, (uint64_t)st.st_size);
	if (!ret)
		ret = resync_bitmap_new(&b, le64toh(h.device_size), le32toh(h.granularity));
	if (!ret)
		ret = rc_pread_full(fd, b->words, bitmap_bytes(b), sizeof h);
	close(fd);
	if (ret) {
		resync_bitmap_free(b);
		if (!*load_error)
			load_error = "read failed";
		return ret;
	}
	uint64_t want = le64toh(h.checksum);
	h.checksum = 0;
	if (checksum(&h, b->words, bitmap_bytes(b)) != want) {
		resync_bitmap_free(b);
		return fail_load(-EBADMSG, "checksum mismatch (corrupted)");
	}
	words_from_le(b->words, b->nwords);
	if (b->nblocks % 64 && b->words[b->nwords - 1] >> (b->nblocks % 64)) {
		resync_bitmap_free(b);
		return fail_load(-EBADMSG, "bits set past the end of the device");
	}
	b->flags = le64toh(h.flags);
	memcpy(b->generation, h.generation_id, 16);
	memcpy(b->disk_id, h.disk_id, 16);
	*out = b;
	return 0;
}

void rs_bm_set_blocks(struct resync_bitmap *b, uint64_t first, uint64_t n)
{
	uint64_t end = first + n;
	while (first < end && (first & 63))
		b->words[first >> 6] |= 1ull << (first & 63), first++;
	while (first + 64 <= end)
		b->words[first >> 6] = ~0ull, first += 64;
	while (first < end)
		b->words[first >> 6] |= 1ull << (first & 63), first++;
}

void rs_bm_clear_blocks(struct resync_bitmap *b, uint64_t first, uint64_t n)
{
	uint64_t end = first + n;
	while (first < end && (first & 63))
		rs_bm_clear_blk(b, first++);
	while (first + 64 <= end)
		b->words[first >> 6] = 0, first += 64;
	while (first < end)
		rs_bm_clear_blk(b, first++);
}

static uint64_t next_bit(const struct resync_bitmap *b, uint64_t blk, uint64_t invert)
{
	if (blk >= b->nblocks)
		return b->nblocks;
	uint64_t i = blk >> 6;
	uint64_t w = (b->words[i] ^ invert) & (~0ull << (blk & 63));
	while (!w) {
		if (++i >= b->nwords)
			return b->nblocks;
		w = b->words[i] ^ invert;
	}
	uint64_t r = (i << 6) + (uint64_t)__builtin_ctzll(w);
	return r < b->nblocks ? r : b->nblocks;
}

uint64_t rs_bm_next_set(const struct resync_bitmap *b, uint64_t blk)
{
	return next_bit(b, blk, 0);
}

uint64_t rs_bm_next_clear(const struct resync_bitmap *b, uint64_t blk)
{
	return next_bit(b, blk, ~0ull);
}

uint64_t rs_bm_count(const struct resync_bitmap *b)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < b->nwords; i++)
		n += (uint64_t)__builtin_popcountll(b->words[i]);
	return n;
}

/* Blocks lying wholly inside [off, off+len); the device's last, short block
 * counts as whole when the range reaches the device end. */
static void inner_blocks(const struct resync_bitmap *b, uint64_t off, uint64_t len, uint64_t *first,
			 uint64_t *n)
{
	uint64_t end = off >= b->device_size || len >= b->device_size - off ? b->device_size :
									      off + len;
	uint64_t f = blocks_for(off, b->granularity);
	uint64_t e = end >= b->device_size ? b->nblocks : end >> b->shift;
	*first = f;
	*n = e > f ? e - f : 0;
}

void rs_bm_clear_inner(struct resync_bitmap *b, uint64_t off, uint64_t len)
{
	uint64_t f, n;
	inner_blocks(b, off, len, &f, &n);
	rs_bm_clear_blocks(b, f, n);
}

void rs_bm_set_inner(struct resync_bitmap *b, uint64_t off, uint64_t len)
{
	uint64_t f, n;
	inner_blocks(b, off, len, &f, &n);
	rs_bm_set_blocks(b, f, n);
}

static int outer_blocks(const struct resync_bitmap *b, uint64_t off, uint64_t len, uint64_t *first,
			uint64_t *n)
{
	if (off > b->device_size || len > b->device_size - off)
		return -ERANGE;
	*first = off >> b->shift;
	*n = len ? ((off + len - 1) >> b->shift) + 1 - *first : 0;
	return 0;
}

int resync_bitmap_mark(resync_bitmap *b, uint64_t offset, uint64_t length)
{
	uint64_t f, n;
	int ret = outer_blocks(b, offset, length, &f, &n);
	if (!ret)
		rs_bm_set_blocks(b, f, n);
	return ret;
}

int resync_bitmap_clear(resync_bitmap *b, uint64_t offset, uint64_t length)
{
	uint64_t f, n;
	int ret = outer_blocks(b, offset, length, &f, &n);
	if (!ret)
		rs_bm_clear_blocks(b, f, n);
	return ret;
}

int resync_bitmap_next(const resync_bitmap *b, uint64_t *offset, uint64_t *length)
{
	uint64_t first = rs_bm_next_set(b, blocks_for(*offset, b->granularity));
	if (first >= b->nblocks)
		return 0;
	uint64_t end = rs_bm_next_clear(b, first);
	*offset = first << b->shift;
	/* end << shift passes 2^64 when the device ends within 2^64's last block. */
	*length = (end >= b->nblocks ? b->device_size : end << b->shift) - *offset;
	return 1;
}

uint64_t resync_bitmap_device_size(const resync_bitmap *b)
{
	return b->device_size;
}

uint32_t resync_bitmap_granularity(const resync_bitmap *b)
{
	return b->granularity;
}

uint64_t resync_bitmap_dirty_bytes(const resync_bitmap *b)
{
	uint64_t n = rs_bm_count(b);
	if (!n)
		return 0;
	/* The last block counts only up to the device end (and nblocks <<
	 * shift may pass 2^64). */
	if (rs_bm_test(b, b->nblocks - 1))
		return ((n - 1) << b->shift) + (b->device_size - ((b->nblocks - 1) << b->shift));
	return n << b->shift;
}

uint64_t resync_bitmap_flags(const resync_bitmap *b)
{
	return b->flags;
}

int resync_bitmap_set_flags(resync_bitmap *b, uint64_t flags)
{
	if (flags & ~RESYNC_BITMAP_F_ALL)
		return -EINVAL;
	b->flags = flags;
	return 0;
}

void resync_bitmap_get_generation(const resync_bitmap *b, uint8_t id[16])
{
	memcpy(id, b->generation, 16);
}

void resync_bitmap_set_generation(resync_bitmap *b, const uint8_t id[16])
{
	memcpy(b->generation, id, 16);
}

void resync_bitmap_get_disk_id(const resync_bitmap *b, uint8_t id[16])
{
	memcpy(id, b->disk_id, 16);
}

void resync_bitmap_set_disk_id(resync_bitmap *b, const uint8_t id[16])
{
	memcpy(b->disk_id, id, 16);
}
