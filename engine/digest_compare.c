/* SPDX-License-Identifier: MIT */
/*
 * The near side of a digest compare: the stream's digests against the
 * target's own blocks, hashed as their reads complete on the ring, so only
 * blocks whose digests differ stay in the plan and cross the link from the
 * source.  A frame is read (blocking, with the NBD timeout and cancel seen)
 * only when the slots have taken every block of the one before, so target
 * reads stay in flight while the next frame arrives.
 *
 * When the run writes, copy slots read the differing blocks hashing has
 * found from the source and write them at once, so the link carries data
 * while the rest of the disk is still being hashed (its time is the
 * link's, not the hashing's plus the link's).  Those writes are flushed before the compare returns:
 * the checkpoint saved after it may then record them as done.  A failed
 * stream fails the run after such writes too; the blocks written hold the
 * source's data, and the earlier checkpoint (if any) still lists them.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include "buffers.h"
#include "clock.h"
#include "digest.h"
#include "ratelimit.h"

#define RS_TICK_NS (50ull * 1000000)
/* How often the stream is looked at while the ring has work. */
#define RS_STREAM_WAIT_NS (1ull * 1000000)
/* The NBD default, for a stream that goes silent. */
#define RS_DIGEST_DEFAULT_TIMEOUT_MS 60000u

/* Hashing the target: a read, then the digests checked. */
struct dslot {
	struct dpass *dp;
	struct rs_io io;
	char *buf;
	int idx;
	uint64_t first, nblk;
	uint8_t *expect; /* nblk digests from the stream */
	bool busy;
};

/* Copying a run of differing blocks: the source read, then the target
 * written.  Apart from the hashing slots, so hashing runs ahead of the
 * link and the link never waits for a slot that is hashing. */
struct fslot {
	struct dpass *dp;
	struct rs_io io;
	char *buf;
	int idx;
	bool busy;
};

struct dpass {
	struct resync *r;
	struct rs_ring *rg;
	struct rs_endpoint *src, *tgt;
	struct rs_plan *p;
	bool write; /* fetch and write differing blocks here */
	bool wrote;
	struct resync_digest_header h;
	unsigned dsize;
	uint32_t timeout_ms;
	uint64_t per_slot;
	struct dslot *slots;
	unsigned nslots, active;
	struct fslot *fslots;
	unsigned factive;
	uint64_t fetch_cursor;         /* blocks below it are copied or being copied */
	struct rs_rate rate;           /* the run's rate limit, on the copies' source reads */
	uint64_t rate_wait_ns;         /* > 0: the limit holds the next copy back this long */
	uint8_t *frame;                /* the current frame's digests */
	uint64_t frame_first, frame_n; /* its blocks */
	uint64_t frame_pos;            /* blocks of it handed to slots or passed over */
	uint64_t next_block;           /* the block the next frame must start at */
	XXH3_state_t total;
	bool ended;
	int err;
	bool stop;
};

static void stop_with(struct dpass *dp, int err)
{
	if (!dp->err)
		dp->err = err;
	dp->stop = true;
}

static int stream_error(struct dpass *dp, int err, const char *what)
{
	struct resync *r = dp->r;
	if (err == -ENODATA && !dp->h.block_count)
		return rs_fail(r, err, UINT64_MAX,
			       "digest stream: ended before its header was complete (did the "
			       "digest command fail?)");
	if (err == -ENODATA)
		return rs_fail(r, err, UINT64_MAX,
			       "digest stream: ended early, reading %s at block %" PRIu64
			       " of %" PRIu64 " (did the digest command fail?)",
			       what, dp->next_block, dp->h.block_count);
	if (err == -ETIMEDOUT)
		return rs_fail(r, err, UINT64_MAX,
			       "digest stream: nothing received for %" PRIu32 " ms, reading %s",
			       dp->timeout_ms, what);
	if (err == -ECANCELED)
		return rs_fail(r, err, UINT64_MAX, "cancelled");
	return rs_fail(r, err, UINT64_MAX, "digest stream: reading %s: %s", what, strerror(-err));
}

static int read_counted(struct dpass *dp, void *buf, size_t n, const char *what)
{
	int ret = rs_digest_read(dp->r, dp->r->digest_fd, buf, n, dp->timeout_ms);
	if (ret)
		return stream_error(dp, ret, what);
	dp->r->st.digest_stream_bytes += n;
	return 0;
}

/* The next frame: a data frame becomes the current one; the end frame
 * checks the total and ends the stream. */
static int next_frame(struct dpass *dp)
{
	struct resync *r = dp->r;
	struct resync_digest_frame raw, f;
	int ret = read_counted(dp, &raw, sizeof raw, "a frame header");
	if (ret)
		return ret;
	rs_digest_frame_decode(&raw, &f);
	if (f.type == RESYNC_DIGEST_FRAME_END) {
		if (!rs_digest_frame_sum_ok(&raw, NULL, 0))
			return rs_fail(r, -EBADMSG, UINT64_MAX,
				       "digest stream: end frame checksum mismatch");
		if (f.count || f.first_block != dp->h.block_count ||
		    dp->next_block != dp->h.block_count)
			return rs_fail(r, -EPROTO, UINT64_MAX,
				       "digest stream: end frame at block %" PRIu64
				       " after %" PRIu64 " of %" PRIu64 " blocks",
				       f.first_block, dp->next_block, dp->h.block_count);
		if (f.total != XXH3_64bits_digest(&dp->total))
			return rs_fail(r, -EBADMSG, UINT64_MAX,
				       "digest stream: total checksum mismatch");
		dp->ended = true;
		return 0;
	}
	if (f.type != RESYNC_DIGEST_FRAME_DATA)
		return rs_fail(r, -EPROTO, UINT64_MAX,
			       "digest stream: unknown frame type %" PRIu32 " at block %" PRIu64,
			       f.type, dp->next_block);
	if (!f.count || f.count > RESYNC_DIGEST_MAX_COUNT || f.total ||
	    f.first_block != dp->next_block || f.count > dp->h.block_count - dp->next_block)
		return rs_fail(r, -EPROTO, UINT64_MAX,
			       "digest stream: frame of %" PRIu32 " digests at block %" PRIu64
			       " where block %" PRIu64 " of %" PRIu64 " was due",
			       f.count, f.first_block, dp->next_block, dp->h.block_count);
	size_t bytes = (size_t)f.count * dp->dsize;
	if ((ret = read_counted(dp, dp->frame, bytes, "a frame's digests")))
		return ret;
	if (!rs_digest_frame_sum_ok(&raw, dp->frame, bytes))
		return rs_fail(r, -EBADMSG, f.first_block * dp->h.block_size,
			       "digest stream: checksum mismatch in the frame at block %" PRIu64,
			       f.first_block);
	XXH3_64bits_update(&dp->total, dp->frame, bytes);
	dp->frame_first = f.first_block;
	dp->frame_n = f.count;
	dp->frame_pos = 0;
	dp->next_block += f.count;
	return 0;
}

static bool stream_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) != 0;
}

static uint64_t block_len(const struct dpass *dp, uint64_t blk)
{
	return rs_min(dp->p->block, dp->p->size - blk * dp->p->block);
}

static void write_done(struct rs_io *io, int err)
{
	struct fslot *f = io->owner;
	struct dpass *dp = f->dp;
	struct resync *r = dp->r;
	if (err) {
		stop_with(dp, err);
	} else {
		uint64_t first = io->off / dp->p->block;
		uint64_t n = (io->len + dp->p->block - 1) / dp->p->block;
		rs_bm_clear_blocks(dp->p->todo, first, n);
		r->st.bytes_written += io->len;
		r->st.bytes_done += io->len;
	}
	f->busy = false;
	dp->factive--;
}

static void fetch_done(struct rs_io *io, int err)
{
	struct fslot *f = io->owner;
	struct dpass *dp = f->dp;
	if (err || dp->stop) {
		if (err)
			stop_with(dp, err);
		f->busy = false;
		dp->factive--;
		return;
	}
	dp->r->st.bytes_read += io->len;
	/* The same request, now a write: nothing of the read carried over. */
	uint64_t off = io->off, len = io->len;
	memset(io, 0, sizeof *io);
	io->ep = dp->tgt;
	io->op = RS_OP_WRITE;
	io->off = off;
	io->len = len;
	io->buf = f->buf;
	io->buf_index = f->idx;
	io->cb = write_done;
	io->owner = f;
	dp->wrote = true;
	int ret = dp->tgt->ops->submit(dp->tgt, io);
	if (ret)
		write_done(io, ret);
}

static void read_done(struct rs_io *io, int err)
{
	struct dslot *s = io->owner;
	struct dpass *dp = s->dp;
	struct resync *r = dp->r;
	s->busy = false;
	dp->active--;
	if (err) {
		stop_with(dp, err);
		return;
	}
	r->st.bytes_read += io->len;
	uint8_t d[RS_DIGEST_MAX_SIZE];
	for (uint64_t i = 0; i < s->nblk; i++) {
		uint64_t blk = s->first + i, len = block_len(dp, blk);
		rs_digest_block(dp->h.hash_id, s->buf + i * dp->p->block, len, d);
		if (memcmp(d, s->expect + i * dp->dsize, dp->dsize)) {
			/* A dry run's compare pass counts it, reading both sides. */
			if (dp->write)
				r->st.bytes_differing += len;
			continue;
		}
		rs_bm_clear_blk(dp->p->todo, blk);
		r->st.bytes_skipped_equal += len;
	}
}

/* Whether the digest compare hashes block blk of the target. */
static bool wanted(const struct dpass *dp, uint64_t blk)
{
	return rs_bm_test(dp->p->todo, blk) &&
	       !(dp->p->src_zero && rs_bm_test(dp->p->src_zero, blk));
}

/* The first block not yet hashed: below it, a block still in the plan
 * differs (or is left to the copy: wanted() is false for it). */
static uint64_t hashed_frontier(const struct dpass *dp)
{
	uint64_t f = dp->frame_pos < dp->frame_n ? dp->frame_first + dp->frame_pos : dp->next_block;
	for (unsigned i = 0; i < dp->nslots; i++)
		if (dp->slots[i].busy && dp->slots[i].first < f)
			f = dp->slots[i].first;
	return f;
}

/* Starts copying the runs of differing blocks that hashing has found, as
 * far as free copy slots and the rate limit allow. */
static void fetch_fill(struct dpass *dp)
{
	uint64_t frontier = hashed_frontier(dp);
	dp->rate_wait_ns = 0;
	while (!dp->stop && dp->factive < dp->nslots) {
		uint64_t b = dp->fetch_cursor;
		while (b < frontier && !wanted(dp, b))
			b = rs_min(rs_bm_next_set(dp->p->todo, b + 1), frontier);
		if (b >= frontier) {
			dp->fetch_cursor = b;
			return;
		}
		uint64_t e = b + 1;
		while (e < frontier && e - b < dp->per_slot && wanted(dp, e))
			e++;
		uint64_t now = rc_now_ns(),
			 bytes = rs_min(e * dp->p->block, dp->p->size) - b * dp->p->block;
		if (rs_rate_take(&dp->rate, bytes, now)) {
			dp->fetch_cursor = b;
			dp->rate_wait_ns = rs_max(1, rs_rate_wait_ns(&dp->rate, now));
			return;
		}
		dp->fetch_cursor = e;
		struct fslot *f = NULL;
		for (unsigned i = 0; i < dp->nslots && !f; i++)
			if (!dp->fslots[i].busy)
				f = &dp->fslots[i];
		f->busy = true;
		dp->factive++;
		memset(&f->io, 0, sizeof f->io);
		f->io.ep = dp->src;
		f->io.op = RS_OP_READ;
		f->io.off = b * dp->p->block;
		f->io.len = rs_min(e * dp->p->block, dp->p->size) - f->io.off;
		f->io.buf = f->buf;
		f->io.buf_index = f->idx;
		f->io.cb = fetch_done;
		f->io.owner = f;
		int ret = dp->src->ops->submit(dp->src, &f->io);
		if (ret)
			fetch_done(&f->io, ret);
	}
}

/* Hands the next run of wanted blocks of the current frame to a free slot.
 * 1: the frame has no more. */
static int fill_one(struct dpass *dp)
{
	uint64_t pos = dp->frame_pos;
	while (pos < dp->frame_n && !wanted(dp, dp->frame_first + pos))
		pos++;
	if (pos == dp->frame_n) {
		dp->frame_pos = pos;
		return 1;
	}
	uint64_t end = pos + 1;
	while (end < dp->frame_n && end - pos < dp->per_slot && wanted(dp, dp->frame_first + end))
		end++;
	dp->frame_pos = end;
	struct dslot *s = NULL;
	for (unsigned i = 0; i < dp->nslots && !s; i++)
		if (!dp->slots[i].busy)
			s = &dp->slots[i];
	s->busy = true;
	s->first = dp->frame_first + pos;
	s->nblk = end - pos;
	memcpy(s->expect, dp->frame + pos * dp->dsize, s->nblk * dp->dsize);
	dp->active++;
	memset(&s->io, 0, sizeof s->io);
	s->io.ep = dp->tgt;
	s->io.op = RS_OP_READ;
	s->io.off = s->first * dp->p->block;
	s->io.len = rs_min((dp->frame_first + end) * dp->p->block, dp->p->size) - s->io.off;
	s->io.buf = s->buf;
	s->io.buf_index = s->idx;
	s->io.cb = read_done;
	s->io.owner = s;
	int ret = dp->tgt->ops->submit(dp->tgt, &s->io);
	if (ret)
		read_done(&s->io, ret);
	return 0;
}

/* The header against what the near side planned. */
static int check_header(struct dpass *dp)
{
	struct resync *r = dp->r;
	struct resync_digest_header raw;
	int ret = read_counted(dp, &raw, sizeof raw, "the header");
	if (!ret)
		ret = rs_digest_header_check(r, &raw, &dp->h);
	if (ret)
		return ret;
	if (dp->h.hash_id != r->digest_hash)
		return rs_fail(r, -EPERM, UINT64_MAX,
			       "digest stream: %s digests, but %s were asked for (XXH3-128 is "
			       "for trusted links only and must be asked for)",
			       rs_digest_name(dp->h.hash_id), rs_digest_name(r->digest_hash));
	if (dp->h.block_size != dp->p->block)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "digest stream: block size %" PRIu32
			       " but this compare uses %" PRIu32
			       " (give both sides the same --block-size)",
			       dp->h.block_size, dp->p->block);
	if (dp->h.device_size != dp->p->size)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "digest stream: covers %" PRIu64 " bytes but the source has %" PRIu64
			       " (not the same disk)",
			       dp->h.device_size, dp->p->size);
	dp->dsize = dp->h.digest_size;
	return 0;
}

static int init_slots(struct dpass *dp, struct rs_buffers *bufs, uint32_t request)
{
	dp->per_slot = rs_max(1, request / dp->p->block);
	dp->nslots = rs_max(1, bufs->n / 2);
	dp->slots = calloc(dp->nslots, sizeof *dp->slots);
	dp->fslots = calloc(dp->nslots, sizeof *dp->fslots);
	dp->frame = malloc((size_t)RESYNC_DIGEST_MAX_COUNT * RS_DIGEST_MAX_SIZE);
	if (!dp->slots || !dp->fslots || !dp->frame)
		return -ENOMEM;
	/* A compare's buffers come two to a copy slot: the first for hashing,
	 * the second for copying. */
	for (unsigned i = 0; i < dp->nslots; i++) {
		struct dslot *s = &dp->slots[i];
		struct fslot *f = &dp->fslots[i];
		s->dp = f->dp = dp;
		s->buf = bufs->mem + (size_t)i * 2 * bufs->size;
		s->idx = bufs->registered ? (int)(i * 2) : -1;
		f->buf = s->buf + bufs->size;
		f->idx = bufs->registered ? s->idx + 1 : -1;
		if (!(s->expect = malloc(dp->per_slot * RS_DIGEST_MAX_SIZE)))
			return -ENOMEM;
	}
	return 0;
}

static void free_slots(struct dpass *dp)
{
	for (unsigned i = 0; dp->slots && i < dp->nslots; i++)
		free(dp->slots[i].expect);
	free(dp->slots);
	free(dp->fslots);
	free(dp->frame);
}

static void report_progress(struct resync *r, uint64_t *last, uint64_t now)
{
	if (!r->progress || !r->progress_ms || now - *last < r->progress_ms * 1000000ull)
		return;
	*last = now;
	r->st.elapsed_ns = now - r->run_start_ns;
	r->progress(&r->st, r->progress_arg);
}

int rs_digest_compare(struct resync *r, struct rs_ring *rg, struct rs_buffers *bufs,
		      struct rs_endpoint *src, struct rs_endpoint *tgt, struct rs_plan *p,
		      uint32_t request)
{
	struct dpass dp = {
		.r = r,
		.rg = rg,
		.src = src,
		.tgt = tgt,
		.write = !(r->flags & RESYNC_F_DRY_RUN),
		.p = p,
		.timeout_ms = r->nbd_timeout_ms ? r->nbd_timeout_ms : RS_DIGEST_DEFAULT_TIMEOUT_MS,
	};
	XXH3_64bits_reset(&dp.total);
	/* Room for two requests, as the copy allows itself. */
	rs_rate_init(&dp.rate, r->rate, 2ull * request, rc_now_ns());
	/* The fetches are the copy's traffic: a rate group's limit replaces
	 * the handle's own here too (resync_set_rate_group()). */
	rs_rate_join(&dp.rate, r);
	int ret = rs_digest_init(r);
	if (!ret && init_slots(&dp, bufs, request))
		ret = rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory for the digest compare");
	if (!ret)
		ret = check_header(&dp);
	if (ret) {
		free_slots(&dp);
		return ret;
	}
	uint64_t last_progress = rc_now_ns();
	for (;;) {
		uint64_t wait = RS_TICK_NS;
		if (!dp.stop && atomic_load(&r->cancelled))
			stop_with(&dp, rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled"));
		while (!dp.stop && dp.active < dp.nslots) {
			if (dp.frame_pos == dp.frame_n) {
				if (dp.ended)
					break;
				/* With I/O in flight a frame not yet here is
				 * waited for by the ring, so fetches keep the
				 * link busy meanwhile. */
				if ((dp.active || dp.factive) && !stream_ready(r->digest_fd)) {
					wait = RS_STREAM_WAIT_NS;
					break;
				}
				if ((ret = next_frame(&dp)))
					stop_with(&dp, ret);
				continue;
			}
			fill_one(&dp);
		}
		if (dp.write)
			fetch_fill(&dp);
		if (dp.rate_wait_ns)
			wait = rs_min(wait, dp.rate_wait_ns);
		if (dp.active == 0 && dp.factive == 0 &&
		    (dp.stop || (dp.ended && dp.frame_pos == dp.frame_n && !dp.rate_wait_ns)))
			break;
		report_progress(r, &last_progress, rc_now_ns());
		if (src->ops->pump)
			src->ops->pump(src);
		if (tgt->ops->pump)
			tgt->ops->pump(tgt);
		if ((ret = rs_ring_run(rg, wait)) < 0) {
			free_slots(&dp);
			return rs_fail(r, ret, UINT64_MAX, "io_uring: %s", strerror(-ret));
		}
	}
	free_slots(&dp);
	if (!dp.err && dp.wrote)
		return rs_flush_target(tgt);
	return dp.err;
}
