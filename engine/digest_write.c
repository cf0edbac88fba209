/* SPDX-License-Identifier: MIT */
/*
 * resync_digest_write(): the far side of a digest compare.  Reads the
 * source through the ring, queue-depth requests in flight, hashes each block
 * as its read completes and writes the digests in block order as frames of
 * the uapi stream.  Blocks the source reports as reading back zeroes (holes,
 * NBD zero extents) are not read: their digest is the zero block's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "bitmap.h"
#include "buffers.h"
#include "clock.h"
#include "digest.h"
#include "endpoint.h"

#define RS_TICK_NS (50ull * 1000000)

struct wslot {
	struct wpass *wp;
	struct rs_io io;
	char *buf;
	int idx;
	uint64_t first, nblk;
	uint8_t *digests;
	bool busy, done;
};

struct wpass {
	struct resync *r;
	struct rs_endpoint ep;
	struct rs_ring rg;
	bool ring_ready;
	struct rs_buffers *bufs;
	struct resync_bitmap *zero; /* NULL: nothing known */
	int fd;
	unsigned hash, dsize;
	uint32_t block;
	uint64_t nblocks, per_slot;
	struct wslot *slots;
	unsigned nslots, active;
	uint64_t next_chunk, emit_chunk, nchunks;
	uint8_t *frame; /* digests gathered for the next frame */
	uint64_t frame_first, frame_n;
	uint8_t zero_digest[RS_DIGEST_MAX_SIZE];      /* of a whole zero block */
	uint8_t last_zero_digest[RS_DIGEST_MAX_SIZE]; /* of the last block's length */
	XXH3_state_t total;
	int err;
};

static uint64_t block_len(const struct wpass *wp, uint64_t blk)
{
	return rs_min(wp->block, wp->ep.size - blk * wp->block);
}

static void digest_zero(struct wpass *wp, uint64_t blk, uint8_t *out)
{
	memcpy(out, block_len(wp, blk) == wp->block ? wp->zero_digest : wp->last_zero_digest,
	       wp->dsize);
}

static void read_done(struct rs_io *io, int err)
{
	struct wslot *s = io->owner;
	struct wpass *wp = s->wp;
	wp->active--;
	if (err) {
		if (!wp->err)
			wp->err = err;
		return;
	}
	wp->r->st.bytes_read += io->len;
	for (uint64_t i = 0; i < s->nblk; i++)
		rs_digest_block(wp->hash, s->buf + i * wp->block, block_len(wp, s->first + i),
				s->digests + i * wp->dsize);
	s->done = true;
}

static bool all_zero(const struct wpass *wp, uint64_t first, uint64_t n)
{
	if (!wp->zero)
		return false;
	for (uint64_t b = first; b < first + n; b++)
		if (!rs_bm_test(wp->zero, b))
			return false;
	return true;
}

/* Chunk c (per_slot blocks) goes to slot c % nslots, so chunks complete
 * into slots in an order the emitter can walk. */
static void start_chunk(struct wpass *wp)
{
	uint64_t c = wp->next_chunk;
	struct wslot *s = &wp->slots[c % wp->nslots];
	s->busy = true;
	s->done = false;
	s->first = c * wp->per_slot;
	s->nblk = rs_min(wp->per_slot, wp->nblocks - s->first);
	wp->next_chunk++;
	if (all_zero(wp, s->first, s->nblk)) {
		for (uint64_t i = 0; i < s->nblk; i++)
			digest_zero(wp, s->first + i, s->digests + i * wp->dsize);
		s->done = true;
		return;
	}
	memset(&s->io, 0, sizeof s->io);
	s->io.ep = &wp->ep;
	s->io.op = RS_OP_READ;
	s->io.off = s->first * wp->block;
	s->io.len = rs_min((s->first + s->nblk) * wp->block, wp->ep.size) - s->io.off;
	s->io.buf = s->buf;
	s->io.buf_index = s->idx;
	s->io.cb = read_done;
	s->io.owner = s;
	wp->active++;
	int ret = wp->ep.ops->submit(&wp->ep, &s->io);
	if (ret)
		read_done(&s->io, ret);
}

static int write_out(struct wpass *wp, const void *buf, size_t n)
{
	int ret = rs_digest_write_all(wp->fd, buf, n);
	if (ret == -EPIPE)
		return rs_fail(wp->r, ret, UINT64_MAX,
			       "digest stream: the reader went away (broken pipe)");
	if (ret)
		return rs_fail(wp->r, ret, UINT64_MAX, "digest stream: write: %s", strerror(-ret));
	wp->r->st.digest_stream_bytes += n;
	return 0;
}

static int flush_frame(struct wpass *wp)
{
	if (!wp->frame_n)
		return 0;
	struct resync_digest_frame f;
	size_t bytes = wp->frame_n * wp->dsize;
	rs_digest_frame_encode(&f, RESYNC_DIGEST_FRAME_DATA, (uint32_t)wp->frame_n, wp->frame_first,
			       0, wp->frame, bytes);
	XXH3_64bits_update(&wp->total, wp->frame, bytes);
	int ret = write_out(wp, &f, sizeof f);
	if (!ret)
		ret = write_out(wp, wp->frame, bytes);
	wp->frame_first += wp->frame_n;
	wp->frame_n = 0;
	return ret;
}

/* Moves completed chunks, in order, into frames. */
static int emit(struct wpass *wp)
{
	while (wp->emit_chunk < wp->next_chunk) {
		struct wslot *s = &wp->slots[wp->emit_chunk % wp->nslots];
		if (!s->done)
			return 0;
		for (uint64_t i = 0; i < s->nblk; i++) {
			memcpy(wp->frame + wp->frame_n * wp->dsize, s->digests + i * wp->dsize,
			       wp->dsize);
			int ret;
			if (++wp->frame_n == RESYNC_DIGEST_MAX_COUNT && (ret = flush_frame(wp)))
				return ret;
		}
		s->busy = false;
		wp->emit_chunk++;
	}
	return 0;
}

static int mark_zero(void *arg, uint64_t off, uint64_t len)
{
	rs_bm_set_inner(arg, off, len);
	return 0;
}

static int setup(struct wpass *wp)
{
	struct resync *r = wp->r;
	int ret = rs_endpoint_open(r, &wp->ep, r->source, "source", false);
	if (ret)
		return ret;
	if (wp->ep.align > wp->block)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "source %s needs %u-byte alignment, more than the block size %u",
			       wp->ep.name, wp->ep.align, wp->block);
	if (wp->ep.max_request && wp->ep.max_request < wp->block)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "source %s takes at most %u bytes per request, less than the block "
			       "size %u",
			       wp->ep.name, wp->ep.max_request, wp->block);
	r->st.size = wp->ep.size;
	r->st.source_direct = wp->ep.direct;
	wp->nblocks = (wp->ep.size + wp->block - 1) / wp->block;
	uint64_t req = r->request_size;
	if (wp->ep.max_request)
		req = rs_min(req, wp->ep.max_request);
	if (wp->ep.want_request)
		req = rs_min(req, wp->ep.want_request);
	wp->per_slot = rs_max(1, req / wp->block);
	wp->nchunks = (wp->nblocks + wp->per_slot - 1) / wp->per_slot;

	if ((ret = rs_ring_init(&wp->rg, 256)))
		return rs_fail(r, ret, UINT64_MAX, "io_uring_queue_init: %s", strerror(-ret));
	wp->ring_ready = true;
	if (wp->ep.ops->attach && (ret = wp->ep.ops->attach(&wp->ep, &wp->rg)))
		return ret;
	if (wp->ep.ops->zero_extents && wp->nblocks) {
		if ((ret = resync_bitmap_new(&wp->zero, wp->ep.size, wp->block)))
			return rs_fail(r, ret, UINT64_MAX, "out of memory for the zero map");
		ret = wp->ep.ops->zero_extents(&wp->ep, 0, wp->ep.size, mark_zero, wp->zero);
		if (ret)
			return rs_fail(r, ret, UINT64_MAX, "source %s: reading its allocation: %s",
				       wp->ep.name, strerror(-ret));
	}
	wp->nslots = r->queue_depth;
	ret = rs_buffers_new(r, &wp->rg, wp->nslots, (uint32_t)(wp->per_slot * wp->block),
			     &wp->bufs);
	if (ret)
		return ret;
	wp->slots = calloc(wp->nslots, sizeof *wp->slots);
	wp->frame = malloc((size_t)RESYNC_DIGEST_MAX_COUNT * wp->dsize);
	char *zero = calloc(1, wp->block);
	if (!wp->slots || !wp->frame || !zero) {
		free(zero);
		return rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory for the digest stream");
	}
	rs_digest_block(wp->hash, zero, wp->block, wp->zero_digest);
	/* A shorter last block's too, so no allocation can fail mid-stream. */
	if (wp->nblocks)
		rs_digest_block(wp->hash, zero, block_len(wp, wp->nblocks - 1),
				wp->last_zero_digest);
	free(zero);
	for (unsigned i = 0; i < wp->nslots; i++) {
		struct wslot *s = &wp->slots[i];
		s->wp = wp;
		s->buf = wp->bufs->mem + (size_t)i * wp->bufs->size;
		s->idx = wp->bufs->registered ? (int)i : -1;
		if (!(s->digests = malloc(wp->per_slot * wp->dsize)))
			return rs_fail(r, -ENOMEM, UINT64_MAX,
				       "out of memory for the digest stream");
	}
	return 0;
}

static int stream(struct wpass *wp)
{
	struct resync *r = wp->r;
	struct resync_digest_header h;
	rs_digest_header_encode(&h, wp->block, wp->hash, wp->ep.size);
	int ret = write_out(wp, &h, sizeof h);
	while (!ret) {
		if (atomic_load(&r->cancelled)) {
			ret = rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled");
			break;
		}
		while (wp->next_chunk < wp->nchunks && wp->next_chunk - wp->emit_chunk < wp->nslots)
			start_chunk(wp);
		if ((ret = emit(wp)) || wp->err)
			break;
		if (wp->emit_chunk == wp->nchunks)
			break;
		if (wp->ep.ops->pump)
			wp->ep.ops->pump(&wp->ep);
		if (wp->active && (ret = rs_ring_run(&wp->rg, RS_TICK_NS)) < 0) {
			ret = rs_fail(r, ret, UINT64_MAX, "io_uring: %s", strerror(-ret));
			break;
		}
		ret = 0;
	}
	/* What is in flight completes before the buffers go. */
	while (wp->active && rs_ring_run(&wp->rg, RS_TICK_NS) >= 0)
		if (wp->ep.ops->pump)
			wp->ep.ops->pump(&wp->ep);
	if (!ret)
		ret = wp->err;
	if (!ret)
		ret = flush_frame(wp);
	if (!ret) {
		struct resync_digest_frame f;
		rs_digest_frame_encode(&f, RESYNC_DIGEST_FRAME_END, 0, wp->nblocks,
				       XXH3_64bits_digest(&wp->total), NULL, 0);
		ret = write_out(wp, &f, sizeof f);
	}
	return ret;
}

static void teardown(struct wpass *wp)
{
	for (unsigned i = 0; wp->slots && i < wp->nslots; i++)
		free(wp->slots[i].digests);
	free(wp->slots);
	free(wp->frame);
	resync_bitmap_free(wp->zero);
	rs_buffers_free(wp->bufs);
	rs_endpoint_close(&wp->ep);
	if (wp->ring_ready)
		rs_ring_exit(&wp->rg);
}

int resync_digest_write(resync *r, int fd, const struct resync_digest_opts *opts)
{
	if (!r || !r->source || fd < 0)
		return -EINVAL;
	unsigned hash = RESYNC_DIGEST_BLAKE2B;
	if (opts) {
		if (opts->struct_size < sizeof *opts || opts->flags || opts->reserved)
			return -EINVAL;
		hash = opts->hash ? opts->hash : RESYNC_DIGEST_BLAKE2B;
	}
	if (!rs_digest_size(hash))
		return -EINVAL;
	if (r->running)
		return -EBUSY;
	r->running = 1;
	memset(&r->st, 0, sizeof r->st);
	rs_clear_error(r);
	r->run_start_ns = rc_now_ns();

	struct wpass wp = {
		.r = r,
		.fd = fd,
		.hash = hash,
		.dsize = rs_digest_size(hash),
		.block = r->block_size,
	};
	XXH3_64bits_reset(&wp.total);
	int ret = rs_digest_init(r);
	if (!ret)
		ret = setup(&wp);
	if (!ret)
		ret = stream(&wp);
	teardown(&wp);
	r->st.elapsed_ns = rc_now_ns() - r->run_start_ns;
	atomic_store(&r->cancelled, 0);
	r->running = 0;
	return ret;
}
