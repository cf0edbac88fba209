/* SPDX-License-Identifier: MIT */
/* The digest stream's hashes and its header and frame codec. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "digest.h"

/* How often a blocked read looks at resync_cancel(). */
#define RS_DIGEST_POLL_MS 50

unsigned rs_digest_size(unsigned hash_id)
{
	switch (hash_id) {
	case RESYNC_DIGEST_BLAKE2B:
		return 32;
	case RESYNC_DIGEST_XXH3_128:
		return 16;
	}
	return 0;
}

const char *rs_digest_name(unsigned hash_id)
{
	switch (hash_id) {
	case RESYNC_DIGEST_BLAKE2B:
		return "BLAKE2b";
	case RESYNC_DIGEST_XXH3_128:
		return "XXH3-128";
	}
	return "unknown";
}

int rs_digest_init(struct resync *r)
{
	if (sodium_init() < 0)
		return rs_fail(r, -ENOSYS, UINT64_MAX, "digest: libsodium failed to initialise");
	return 0;
}

void rs_digest_block(unsigned hash_id, const void *buf, size_t len, uint8_t *out)
{
	if (hash_id == RESYNC_DIGEST_XXH3_128) {
		XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits(buf, len));
		return;
	}
	crypto_generichash(out, 32, buf, len, NULL, 0);
}

int rs_digest_read(struct resync *r, int fd, void *buf, size_t n, uint32_t timeout_ms)
{
	size_t got = 0;
	uint64_t idle_since = rc_now_ns();
	while (got < n) {
		if (atomic_load(&r->cancelled))
			return -ECANCELED;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, RS_DIGEST_POLL_MS);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0) {
			if (rc_now_ns() - idle_since >= timeout_ms * 1000000ull)
				return -ETIMEDOUT;
			continue;
		}
		ssize_t k = read(fd, (char *)buf + got, n - got);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENODATA;
		got += (size_t)k;
		idle_since = rc_now_ns();
	}
	return 0;
}

int rs_digest_write_all(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t k = write(fd, (const char *)buf + done, n - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, -1);
			continue;
		}
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

static uint64_t header_sum(const struct resync_digest_header *le)
{
	struct resync_digest_header h = *le;
	h.checksum = 0;
	return XXH3_64bits(&h, sizeof h);
}

void rs_digest_header_encode(struct resync_digest_header *h, uint32_t block_size, unsigned hash_id,
			     uint64_t device_size)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, RESYNC_DIGEST_MAGIC, sizeof h->magic);
	h->version = htole32(RESYNC_DIGEST_VERSION);
	h->header_size = htole32(RESYNC_DIGEST_HEADER_SIZE);
	h->block_size = htole32(block_size);
	h->hash_id = htole16((uint16_t)hash_id);
	h->digest_size = htole16((uint16_t)rs_digest_size(hash_id));
	h->device_size = htole64(device_size);
	h->block_count = htole64((device_size + block_size - 1) / block_size);
	h->checksum = htole64(header_sum(h));
}

int rs_digest_header_check(struct resync *r, const struct resync_digest_header *raw,
			   struct resync_digest_header *out)
{
	if (memcmp(raw->magic, RESYNC_DIGEST_MAGIC, sizeof raw->magic))
		return rs_fail(r, -EBADMSG, UINT64_MAX,
			       "digest stream: bad magic (not a resync digest stream)");
	if (le64toh(raw->checksum) != header_sum(raw))
		return rs_fail(r, -EBADMSG, UINT64_MAX, "digest stream: header checksum mismatch");
	struct resync_digest_header h = *raw;
	h.version = le32toh(raw->version);
	h.header_size = le32toh(raw->header_size);
	h.block_size = le32toh(raw->block_size);
	h.hash_id = le16toh(raw->hash_id);
	h.digest_size = le16toh(raw->digest_size);
	h.device_size = le64toh(raw->device_size);
	h.block_count = le64toh(raw->block_count);
	h.flags = le64toh(raw->flags);
	h.reserved = le64toh(raw->reserved);
	if (h.version != RESYNC_DIGEST_VERSION)
		return rs_fail(r, -EPROTO, UINT64_MAX,
			       "digest stream: version %" PRIu32 " (this resync reads version %u)",
			       h.version, RESYNC_DIGEST_VERSION);
	if (h.header_size != RESYNC_DIGEST_HEADER_SIZE)
		return rs_fail(r, -EINVAL, UINT64_MAX, "digest stream: header size %" PRIu32,
			       h.header_size);
	if (!rs_digest_size(h.hash_id))
		return rs_fail(r, -EINVAL, UINT64_MAX, "digest stream: unknown hash id %u",
			       h.hash_id);
	if (h.digest_size != rs_digest_size(h.hash_id))
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "digest stream: digest size %u for %s (must be %u)", h.digest_size,
			       rs_digest_name(h.hash_id), rs_digest_size(h.hash_id));
	if (!rs_is_pow2(h.block_size) || h.block_size < RESYNC_DIGEST_MIN_BLOCK ||
	    h.block_size > RESYNC_DIGEST_MAX_BLOCK)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "digest stream: block size %" PRIu32
			       " is not a power of two in 4 KiB .. 64 MiB",
			       h.block_size);
	if (h.block_count != (h.device_size + h.block_size - 1) / h.block_size)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "digest stream: %" PRIu64 " blocks do not cover %" PRIu64 " bytes",
			       h.block_count, h.device_size);
	if (h.flags || h.reserved)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "digest stream: nonzero flags or reserved field in the header");
	*out = h;
	return 0;
}

static uint64_t frame_sum(const struct resync_digest_frame *le, const void *digests, size_t n)
{
	struct resync_digest_frame f = *le;
	f.checksum = 0;
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, &f, sizeof f);
	if (n)
		XXH3_64bits_update(&st, digests, n);
	return XXH3_64bits_digest(&st);
}

void rs_digest_frame_encode(struct resync_digest_frame *f, uint32_t type, uint32_t count,
			    uint64_t first_block, uint64_t total, const void *digests,
			    size_t digest_bytes)
{
	memset(f, 0, sizeof *f);
	f->type = htole32(type);
	f->count = htole32(count);
	f->first_block = htole64(first_block);
	f->total = htole64(total);
	f->checksum = htole64(frame_sum(f, digests, digest_bytes));
}

bool rs_digest_frame_sum_ok(const struct resync_digest_frame *raw, const void *digests,
			    size_t digest_bytes)
{
	return le64toh(raw->checksum) == frame_sum(raw, digests, digest_bytes);
}

void rs_digest_frame_decode(const struct resync_digest_frame *raw, struct resync_digest_frame *out)
{
	out->type = le32toh(raw->type);
	out->count = le32toh(raw->count);
	out->first_block = le64toh(raw->first_block);
	out->total = le64toh(raw->total);
	out->checksum = le64toh(raw->checksum);
}
