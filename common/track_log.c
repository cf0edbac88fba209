/* SPDX-License-Identifier: MIT */
/* The tracking log format: geometry, read with recovery, encoders.  See
 * track_log.h for the contract and uapi/resync/track_log.h for the layout. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "durable.h"
#include "resync/change_bitmap.h"
#include "track_log.h"
#include "pread_full.h"

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static int fail(struct rc_track *t, int err, const char *why)
{
	t->error = why;
	return err;
}

int rc_track_init(struct rc_track *t, uint64_t device_size, uint32_t granularity,
		  uint32_t region_size)
{
	memset(t, 0, sizeof *t);
	if (!is_pow2(granularity) || granularity < RESYNC_BITMAP_MIN_GRANULARITY ||
	    granularity > RESYNC_BITMAP_MAX_GRANULARITY)
		return fail(t, -EINVAL, "granularity is not a power of two between 512 and 1 GiB");
	if (!region_size)
		region_size = RESYNC_TRACK_DEFAULT_REGION;
	if (!is_pow2(region_size) || region_size > RESYNC_TRACK_MAX_REGION)
		return fail(t, -EINVAL, "region size is not a power of two of at most 1 GiB");
	if (region_size < granularity)
		region_size = granularity;
	t->device_size = device_size;
	t->granularity = granularity;
	t->region_size = region_size;
	t->nbits = div_up(device_size, granularity);
	t->bits_per_region = region_size / granularity;
	t->region_count = div_up(device_size, region_size);
	t->hot_bytes = div_up(t->region_count, 8);
	t->slot_size = div_up(RESYNC_TRACK_SLOT_SIZE + t->hot_bytes, RESYNC_TRACK_ALIGN) *
		       RESYNC_TRACK_ALIGN;
	t->bitmap_bytes = div_up(t->nbits, 8);
	t->body_blocks = div_up(t->bitmap_bytes, RESYNC_TRACK_BLOCK_BITS_BYTES);
	t->bits = calloc(t->body_blocks ? t->body_blocks : 1, RESYNC_TRACK_BLOCK_BITS_BYTES);
	t->hot = calloc(t->hot_bytes ? t->hot_bytes : 1, 1);
	if (!t->bits || !t->hot) {
		rc_track_fini(t);
		return fail(t, -ENOMEM, "out of memory");
	}
	return 0;
}

void rc_track_fini(struct rc_track *t)
{
	free(t->bits);
	free(t->hot);
	t->bits = t->hot = NULL;
}

uint64_t rc_track_slot_offset(const struct rc_track *t, uint64_t sequence)
{
	return RESYNC_TRACK_ALIGN + (sequence & 1) * t->slot_size;
}

uint64_t rc_track_block_offset(const struct rc_track *t, uint64_t k)
{
	return RESYNC_TRACK_ALIGN + 2 * t->slot_size + k * RESYNC_TRACK_BLOCK_SIZE;
}

static uint64_t file_size(const struct rc_track *t)
{
	return rc_track_block_offset(t, t->body_blocks);
}

static void encode_header(const struct rc_track *t, struct resync_track_header *h)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, RESYNC_TRACK_MAGIC, sizeof h->magic);
	h->version = htole32(RESYNC_TRACK_VERSION);
	h->header_size = htole32(RESYNC_TRACK_HEADER_SIZE);
	h->device_size = htole64(t->device_size);
	h->granularity = htole32(t->granularity);
	h->region_size = htole32(t->region_size);
	h->region_count = htole64(t->region_count);
	h->slot_size = htole64(t->slot_size);
	h->bitmap_bytes = htole64(t->bitmap_bytes);
	h->body_blocks = htole64(t->body_blocks);
	memcpy(h->generation_id, t->generation, 16);
	memcpy(h->disk_id, t->disk_id, 16);
	h->checksum = htole64(XXH64(h, sizeof *h, 0));
}

void rc_track_encode_slot(const struct rc_track *t, uint64_t sequence, uint64_t flags,
			  const uint8_t *hot, void *buf)
{
	struct resync_track_slot *s = buf;
	memset(buf, 0, (size_t)t->slot_size);
	memcpy(s->magic, RESYNC_TRACK_SLOT_MAGIC, sizeof s->magic);
	s->flags = htole64(flags);
	s->sequence = htole64(sequence);
	s->recovered_regions = htole64(t->recovered_regions);
	memcpy((char *)buf + RESYNC_TRACK_SLOT_SIZE, hot, (size_t)t->hot_bytes);
	s->checksum = htole64(XXH64(buf, (size_t)t->slot_size, 0));
}

static uint64_t block_checksum(const struct resync_track_block *b)
{
	return XXH64(&b->index, sizeof *b - sizeof b->checksum, 0);
}

void rc_track_encode_block(const struct rc_track *t, uint64_t k, struct resync_track_block *out)
{
	out->index = htole64(k);
	memcpy(out->bits, t->bits + k * RESYNC_TRACK_BLOCK_BITS_BYTES, sizeof out->bits);
	out->checksum = htole64(block_checksum(out));
}

void rc_track_set_bits(uint8_t *bits, uint64_t first, uint64_t n)
{
	uint64_t end = first + n;
	while (first < end && (first & 7))
		bits[first >> 3] |= (uint8_t)(1u << (first & 7)), first++;
	if (end - first >= 8) {
		memset(bits + (first >> 3), 0xff, (size_t)((end - first) >> 3));
		first += (end - first) & ~7ull;
	}
	while (first < end)
		bits[first >> 3] |= (uint8_t)(1u << (first & 7)), first++;
}

void rc_track_mark(struct rc_track *t, uint64_t off, uint64_t len)
{
	if (!len || off >= t->device_size)
		return;
	uint64_t end = len > t->device_size - off ? t->device_size : off + len;
	uint64_t first = off / t->granularity;
	rc_track_set_bits(t->bits, first, div_up(end, t->granularity) - first);
}

static void region_bits(const struct rc_track *t, uint64_t r, uint64_t *first, uint64_t *n)
{
	*first = r * t->bits_per_region;
	uint64_t end = *first + t->bits_per_region;
	*n = (end > t->nbits ? t->nbits : end) - *first;
}

uint64_t rc_track_merge_hot(struct rc_track *t)
{
	uint64_t n = 0;
	for (uint64_t r = 0; r < t->region_count; r++) {
		if (!rc_track_test(t->hot, r))
			continue;
		uint64_t first, count;
		region_bits(t, r, &first, &count);
		rc_track_set_bits(t->bits, first, count);
		n++;
	}
	return n;
}

void rc_track_region_blocks(const struct rc_track *t, uint64_t r, uint64_t *first, uint64_t *n)
{
	uint64_t b, count;
	region_bits(t, r, &b, &count);
	*first = (b / 8) / RESYNC_TRACK_BLOCK_BITS_BYTES;
	*n = count ? ((b + count - 1) / 8) / RESYNC_TRACK_BLOCK_BITS_BYTES + 1 - *first : 0;
}

/* Does body block k hold bits of a hot region? */
static int block_is_hot(const struct rc_track *t, uint64_t k)
{
	uint64_t first_bit = k * RESYNC_TRACK_BLOCK_BITS_BYTES * 8;
	uint64_t last_bit = first_bit + RESYNC_TRACK_BLOCK_BITS_BYTES * 8 - 1;
	if (last_bit >= t->nbits)
		last_bit = t->nbits - 1;
	for (uint64_t r = first_bit / t->bits_per_region; r <= last_bit / t->bits_per_region; r++)
		if (rc_track_test(t->hot, r))
			return 1;
	return 0;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int read_header(struct rc_track *t, int fd)
{
	struct resync_track_header h;
	int ret = rc_pread_full(fd, &h, sizeof h, 0);
	if (ret)
		return fail(t, ret, "file is shorter than the header");
	if (memcmp(h.magic, RESYNC_TRACK_MAGIC, sizeof h.magic))
		return fail(t, -EBADMSG, "bad magic (not a resync tracking log)");
	uint64_t sum = le64toh(h.checksum);
	h.checksum = 0;
	if (XXH64(&h, sizeof h, 0) != sum)
		return fail(t, -EBADMSG, "header checksum mismatch (corrupted)");
	if (le32toh(h.version) != RESYNC_TRACK_VERSION)
		return fail(t, -EPROTO, "unsupported version");
	if (le32toh(h.header_size) != RESYNC_TRACK_HEADER_SIZE)
		return fail(t, -EINVAL, "bad header size");
	if (!all_zero(h.reserved, sizeof h.reserved))
		return fail(t, -EINVAL, "reserved field not zero");
	ret = rc_track_init(t, le64toh(h.device_size), le32toh(h.granularity),
			    le32toh(h.region_size));
	if (ret)
		return ret;
	if (t->region_size != le32toh(h.region_size) ||
	    t->region_count != le64toh(h.region_count) || t->slot_size != le64toh(h.slot_size) ||
	    t->bitmap_bytes != le64toh(h.bitmap_bytes) || t->body_blocks != le64toh(h.body_blocks))
		return fail(t, -EINVAL, "geometry fields do not match device size and granularity");
	memcpy(t->generation, h.generation_id, 16);
	memcpy(t->disk_id, h.disk_id, 16);
	struct stat st;
	if (fstat(fd, &st))
		return fail(t, -errno, "cannot stat");
	if ((uint64_t)st.st_size < file_size(t))
		return fail(t, -ENODATA, "file is shorter than its header says (truncated)");
	if ((uint64_t)st.st_size > file_size(t))
		return fail(t, -EFBIG, "file is longer than its header says");
	return 0;
}

/* Reads slot i; 1 when it is valid, 0 when not (torn, never written). */
static int read_slot(struct rc_track *t, int fd, unsigned i, uint8_t *buf, uint64_t *seq)
{
	int ret = rc_pread_full(fd, buf, t->slot_size, rc_track_slot_offset(t, i));
	if (ret)
		return ret;
	struct resync_track_slot *s = (void *)buf;
	uint64_t sum = le64toh(s->checksum);
	s->checksum = 0;
	if (memcmp(s->magic, RESYNC_TRACK_SLOT_MAGIC, sizeof s->magic) ||
	    XXH64(buf, (size_t)t->slot_size, 0) != sum)
		return 0;
	*seq = le64toh(s->sequence);
	return 1;
}

static int read_slots(struct rc_track *t, int fd)
{
	uint8_t *buf[2] = { malloc((size_t)t->slot_size), malloc((size_t)t->slot_size) };
	uint64_t seq[2] = { 0, 0 };
	int ok[2] = { 0, 0 }, ret = 0;
	if (!buf[0] || !buf[1])
		ret = fail(t, -ENOMEM, "out of memory");
	for (unsigned i = 0; !ret && i < 2; i++) {
		ok[i] = read_slot(t, fd, i, buf[i], &seq[i]);
		if (ok[i] < 0)
			ret = fail(t, ok[i], "cannot read a log slot");
		else if (ok[i] && (seq[i] & 1) != i)
			ret = fail(t, -EBADMSG,
				   "log slot holds a sequence of the other slot (corrupted)");
	}
	if (!ret && !ok[0] && !ok[1])
		ret = fail(t, -EBADMSG, "no valid log slot (corrupted)");
	if (!ret) {
		unsigned cur = ok[1] && (!ok[0] || seq[1] > seq[0]);
		const struct resync_track_slot *s = (const void *)buf[cur];
		t->flags = le64toh(s->flags);
		t->sequence = seq[cur];
		t->recovered_regions = le64toh(s->recovered_regions);
		const uint8_t *hot = buf[cur] + RESYNC_TRACK_SLOT_SIZE;
		if (t->flags & ~RESYNC_TRACK_F_ALL)
			ret = fail(t, -EINVAL, "unknown flags");
		else if (!all_zero(s->reserved, sizeof s->reserved))
			ret = fail(t, -EINVAL, "reserved field not zero");
		else if (!all_zero(hot + t->hot_bytes,
				   (size_t)(t->slot_size - RESYNC_TRACK_SLOT_SIZE - t->hot_bytes)) ||
			 (t->region_count % 8 && hot[t->hot_bytes - 1] >> (t->region_count % 8)))
			ret = fail(t, -EBADMSG, "activity log has bits past the last region");
		else
			memcpy(t->hot, hot, (size_t)t->hot_bytes);
	}
	free(buf[0]);
	free(buf[1]);
	return ret;
}

static int read_body(struct rc_track *t, int fd)
{
	struct resync_track_block *blk = malloc(RESYNC_TRACK_BLOCK_SIZE);
	if (!blk)
		return fail(t, -ENOMEM, "out of memory");
	int ret = 0;
	for (uint64_t k = 0; !ret && k < t->body_blocks; k++) {
		ret = rc_pread_full(fd, blk, sizeof *blk, rc_track_block_offset(t, k));
		if (ret) {
			ret = fail(t, ret, "cannot read the bitmap body");
			break;
		}
		/* A torn write of an open log changed only hot regions' bits,
		 * which recovery sets whole; the others are the same in the old
		 * and the new block, so they are kept. */
		if ((le64toh(blk->checksum) != block_checksum(blk) || le64toh(blk->index) != k) &&
		    (!(t->flags & RESYNC_TRACK_F_OPEN) || !block_is_hot(t, k)))
			ret = fail(t, -EBADMSG, "bitmap block checksum mismatch (corrupted)");
		memcpy(t->bits + k * RESYNC_TRACK_BLOCK_BITS_BYTES, blk->bits, sizeof blk->bits);
	}
	free(blk);
	return ret;
}

int rc_track_read(struct rc_track *t, int fd)
{
	memset(t, 0, sizeof *t);
	int ret = read_header(t, fd);
	if (!ret)
		ret = read_slots(t, fd);
	if (!ret)
		ret = read_body(t, fd);
	if (!ret && (t->flags & RESYNC_TRACK_F_OPEN))
		t->recovered_now = rc_track_merge_hot(t);
	/* Torn blocks of hot regions may hold garbage past the device end. */
	if (!ret && t->nbits % 8)
		t->bits[t->bitmap_bytes - 1] &= (uint8_t)((1u << (t->nbits % 8)) - 1);
	if (!ret && t->bitmap_bytes < t->body_blocks * RESYNC_TRACK_BLOCK_BITS_BYTES)
		memset(t->bits + t->bitmap_bytes, 0,
		       (size_t)(t->body_blocks * RESYNC_TRACK_BLOCK_BITS_BYTES - t->bitmap_bytes));
	if (ret) {
		const char *why = t->error;
		rc_track_fini(t);
		t->error = why;
	}
	return ret;
}

int rc_track_write_new(struct rc_track *t, const char *path, int mode)
{
	uint64_t body = t->body_blocks * RESYNC_TRACK_BLOCK_SIZE;
	uint8_t *page = calloc(1, RESYNC_TRACK_ALIGN);
	uint8_t *slots = calloc(2, (size_t)t->slot_size);
	uint8_t *blocks = malloc(body ? (size_t)body : 1);
	int ret = 0;
	if (!page || !slots || !blocks)
		ret = fail(t, -ENOMEM, "out of memory");
	if (!ret) {
		encode_header(t, (struct resync_track_header *)page);
		rc_track_encode_slot(t, 1, t->flags, t->hot, slots + t->slot_size);
		for (uint64_t k = 0; k < t->body_blocks; k++)
			rc_track_encode_block(t, k,
					      (struct resync_track_block
						       *)(blocks + k * RESYNC_TRACK_BLOCK_SIZE));
		struct iovec iov[3] = {
			{ .iov_base = page, .iov_len = RESYNC_TRACK_ALIGN },
			{ .iov_base = slots, .iov_len = 2 * (size_t)t->slot_size },
			{ .iov_base = blocks, .iov_len = (size_t)body },
		};
		ret = rc_write_durable(AT_FDCWD, path, iov, 3, (mode_t)mode);
		if (ret)
			t->error = "cannot write the file";
		else
			t->sequence = 1;
	}
	free(page);
	free(slots);
	free(blocks);
	return ret;
}
