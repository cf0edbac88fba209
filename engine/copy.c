/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xxhash.h>
#include "buffers.h"
#include "checkpoint.h"
#include "clock.h"
#include "copy.h"
#include "internal.h"
#include "ratelimit.h"

/* How long the loop sleeps at most, so pause, cancel and progress are seen. */
#define RS_TICK_NS (50ull * 1000000)

enum block_kind { BLK_SKIP, BLK_ZERO, BLK_WRITE };

struct copy;

struct slot {
	struct copy *cp;
	struct rs_io rd_src;
	struct rs_io rd_tgt;
	struct rs_io *ops; /* up to one per block */
	char *sbuf, *tbuf;
	int sidx, tidx;
	uint64_t off, len;    /* bytes [off, off + len) */
	uint64_t first, nblk; /* blocks [first, first + nblk) */
	unsigned pending;
	bool src_zero;  /* the source reads as zeroes here: not read */
	bool by_digest; /* verify: the source's digests stand for it: not read */
	bool tgt_zero;  /* comparing: so does the target: not read either */
	bool failed;
	bool busy;
};

/* A checkpoint's flush beside the pipeline, so it keeps moving while the
 * target writes back its cache: on its own thread (flush_beside), or on the
 * ring (flush_start: NBD).  snap is the plan as the flush began (only blocks
 * whose writes completed before it are retired there), saved once the flush
 * succeeded. */
struct bg_flush {
	struct copy *cp;
	struct rs_completion comp; /* the eventfd became readable */
	pthread_t th;
	int efd;
	int ret;
	bool running;
	bool on_ring; /* flush_start: no thread */
	uint64_t start_ns;
	struct resync_bitmap *snap;
	uint64_t retired; /* copy.retired when snap was taken */
};

struct copy {
	struct resync *r;
	enum rs_pass pass;
	bool compare; /* read the target and compare */
	bool write;   /* write what differs */
	bool zero_detect;
	struct rs_ring *rg;
	struct rs_endpoint *src, *tgt;
	struct rs_plan *p;
	struct rs_digests *dg;
	uint32_t request;
	struct slot *slots;
	unsigned nslots, active;
	uint64_t cursor;
	int err;
	bool stop;
	uint64_t first_diff;
	uint64_t first_unplanned; /* verify: first differing byte outside the plan */
	struct rs_rate rate;
	uint64_t last_checkpoint_ns, bytes_since_checkpoint;
	/* Bytes retired in this pass, and how many of them the last saved
	 * checkpoint retired: a byte bound limits the difference. */
	uint64_t retired, retired_saved;
	uint64_t last_progress_ns, start_ns;
	bool paused_checkpointed;
	struct bg_flush bg;
	uint64_t hold_since; /* a checkpoint holds requests back since, or 0 */
};

static uint64_t block_bytes(const struct copy *cp, uint64_t first, uint64_t n)
{
	uint64_t off = first * cp->p->block;
	return rs_min((first + n) * cp->p->block, cp->p->size) - off;
}

static void stop_with(struct copy *cp, int err)
{
	if (!cp->err)
		cp->err = err;
	cp->stop = true;
}

static bool is_zero(const char *p, uint64_t n)
{
	static const char zero[64];
	if (n <= sizeof zero)
		return !memcmp(p, zero, n);
	return !memcmp(p, zero, sizeof zero) && !memcmp(p, p + sizeof zero, n - sizeof zero);
}

static void release(struct slot *s)
{
	s->busy = false;
	s->cp->active--;
}

static void retire_blocks(struct copy *cp, uint64_t first, uint64_t n)
{
	uint64_t bytes = block_bytes(cp, first, n);
	rs_bm_clear_blocks(cp->p->todo, first, n);
	if (cp->p->progress)
		cp->r->st.bytes_done += bytes;
	cp->bytes_since_checkpoint += bytes;
	cp->retired += bytes;
}

/* Blocks both sides read as zeroes: equal without a read, and nothing to
 * write. */
static void skip_zero(struct copy *cp, uint64_t first, uint64_t n)
{
	uint64_t bytes = block_bytes(cp, first, n);
	if (cp->pass == RS_PASS_VERIFY)
		cp->r->st.bytes_verified += bytes;
	if (cp->p->progress)
		cp->r->st.bytes_skipped_zero += bytes;
	retire_blocks(cp, first, n);
}

static void slot_done(struct slot *s)
{
	if (!s->failed)
		retire_blocks(s->cp, s->first, s->nblk);
	release(s);
}

static void io_failed(struct slot *s, int err)
{
	s->failed = true;
	stop_with(s->cp, err);
}

static void write_done(struct rs_io *io, int err)
{
	struct slot *s = io->owner;
	struct resync *r = s->cp->r;
	if (err)
		io_failed(s, err);
	else if (io->op == RS_OP_ZERO)
		r->st.bytes_zeroed += io->len;
	else
		r->st.bytes_written += io->len;
	if (--s->pending == 0)
		slot_done(s);
}

static void prep_io(struct slot *s, struct rs_io *io, struct rs_endpoint *ep, enum rs_op op,
		    uint64_t off, uint64_t len, char *buf, int idx, void (*cb)(struct rs_io *, int))
{
	memset(io, 0, sizeof *io);
	io->ep = ep;
	io->op = op;
	io->off = off;
	io->len = len;
	io->buf = buf;
	io->buf_index = idx;
	io->cb = cb;
	io->owner = s;
}

/* Submits ops[0..n) to the target; an endpoint refusing one fails the slot. */
static void submit_ops(struct slot *s, unsigned n)
{
	struct copy *cp = s->cp;
	s->pending = n;
	for (unsigned i = 0; i < n; i++) {
		int ret = cp->tgt->ops->submit(cp->tgt, &s->ops[i]);
		if (ret)
			write_done(&s->ops[i], ret);
	}
}

/* Where inside block [boff, boff + n) the buffers first differ; NULL reads
 * as zeroes. */
static uint64_t first_difference(const char *a, const char *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if ((a ? a[i] : 0) != (b ? b[i] : 0))
			return i;
	return n;
}

/* NULL reads as zeroes. */
static bool same(const char *a, const char *b, uint64_t n)
{
	if (a && b)
		return !memcmp(a, b, n);
	return !a ? !b || is_zero(b, n) : is_zero(a, n);
}

uint64_t rs_digests_bytes(const struct resync_bitmap *planned)
{
	uint64_t n = rs_bm_count(planned);
	if (!n || n > RS_DIGEST_CAP / 16)
		return 0;
	/* The digests, the ranks and the "have" bitmap. */
	return n * 16 + 2 * planned->nwords * sizeof *planned->words;
}

int rs_digests_new(const struct resync_bitmap *planned, struct rs_digests **out)
{
	*out = NULL;
	uint64_t n = rs_bm_count(planned);
	if (!n || n > RS_DIGEST_CAP / 16)
		return 0;
	struct rs_digests *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->planned = planned;
	d->rank = malloc(planned->nwords * sizeof *d->rank);
	d->h = malloc(n * sizeof *d->h);
	int ret = d->rank && d->h ?
			  resync_bitmap_new(&d->have, planned->device_size, planned->granularity) :
			  -ENOMEM;
	if (ret) {
		rs_digests_free(d);
		return ret;
	}
	for (uint64_t w = 0, before = 0; w < planned->nwords; w++) {
		d->rank[w] = before;
		before += (uint64_t)__builtin_popcountll(planned->words[w]);
	}
	*out = d;
	return 0;
}

void rs_digests_free(struct rs_digests *d)
{
	if (!d)
		return;
	free(d->rank);
	free(d->h);
	resync_bitmap_free(d->have);
	free(d);
}

static unsigned char *digest_at(struct rs_digests *d, uint64_t blk)
{
	uint64_t below = d->planned->words[blk / 64] & ((1ull << (blk % 64)) - 1);
	return d->h[d->rank[blk / 64] + (uint64_t)__builtin_popcountll(below)];
}

static bool has_digest(const struct copy *cp, uint64_t blk)
{
	return cp->pass == RS_PASS_VERIFY && cp->dg && rs_bm_test(cp->dg->have, blk);
}

static void digest_of(const char *p, uint64_t n, unsigned char out[16])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
	memcpy(out, c.digest, 16);
}

/* Copying: what was read from the source for a planned block, for verify. */
static void record_digest(struct copy *cp, uint64_t blk, const char *src, uint64_t n)
{
	if (cp->pass != RS_PASS_COPY || !cp->dg || !rs_bm_test(cp->dg->planned, blk))
		return;
	digest_of(src, n, digest_at(cp->dg, blk));
	rs_bm_set_blocks(cp->dg->have, blk, 1);
}

/* Verifying by digest: the target's block against what the copy read. */
static bool digest_matches(struct copy *cp, uint64_t blk, const char *tgt, uint64_t n)
{
	unsigned char h[16];
	digest_of(tgt, n, h);
	return !memcmp(h, digest_at(cp->dg, blk), 16);
}

static enum block_kind classify(struct slot *s, uint64_t boff, uint64_t blen, uint64_t blk)
{
	struct copy *cp = s->cp;
	struct resync *r = cp->r;
	const char *src = s->src_zero || s->by_digest ? NULL : s->sbuf + boff;
	if (src)
		record_digest(cp, blk, src, blen);
	bool src_zero = !src || (cp->zero_detect && is_zero(src, blen));

	if (cp->compare) {
		const char *tgt = s->tgt_zero ? NULL : s->tbuf + boff;
		if (cp->pass == RS_PASS_VERIFY)
			r->st.bytes_verified += blen;
		if (s->by_digest ? digest_matches(cp, blk, tgt, blen) : same(src, tgt, blen)) {
			if (cp->p->progress)
				r->st.bytes_skipped_equal += blen;
			return BLK_SKIP;
		}
		r->st.bytes_differing += blen;
		/* A digest says only that the block differs. */
		uint64_t at = s->off + boff + (s->by_digest ? 0 : first_difference(src, tgt, blen));
		if (at < cp->first_diff)
			cp->first_diff = at;
		if (cp->pass == RS_PASS_FIRST_DIFF)
			stop_with(cp, -EILSEQ);
		/* A planned block that differs is a failed copy; one outside
		 * the plan proves the change record wrong, which is what the
		 * caller must learn, so only that ends the pass early. */
		if (cp->pass == RS_PASS_VERIFY && !rs_bm_test(cp->p->planned, blk)) {
			r->st.verify_unplanned_diff = 1;
			if (at < cp->first_unplanned)
				cp->first_unplanned = at;
			stop_with(cp, -EILSEQ);
		}
		if (!cp->write)
			return BLK_SKIP;
		return src_zero ? BLK_ZERO : BLK_WRITE;
	}
	if (!src_zero)
		return BLK_WRITE;
	if (cp->p->tgt_zero && rs_bm_test(cp->p->tgt_zero, blk)) {
		r->st.bytes_skipped_zero += blen;
		return BLK_SKIP;
	}
	return BLK_ZERO;
}

/* Both reads are in: decide per block, and write runs of like blocks. */
static void reads_done(struct slot *s)
{
	struct copy *cp = s->cp;
	if (s->failed) {
		release(s);
		return;
	}
	uint32_t bs = cp->p->block;
	unsigned nops = 0;
	enum block_kind run = BLK_SKIP;
	for (uint64_t i = 0; i < s->nblk; i++) {
		uint64_t boff = i * bs, blen = rs_min(bs, s->len - boff);
		enum block_kind k = classify(s, boff, blen, s->first + i);
		if (k != BLK_SKIP && k == run) {
			s->ops[nops - 1].len += blen;
			continue;
		}
		run = k;
		if (k == BLK_SKIP)
			continue;
		prep_io(s, &s->ops[nops++], cp->tgt, k == BLK_ZERO ? RS_OP_ZERO : RS_OP_WRITE,
			s->off + boff, blen, s->sbuf + boff, s->sidx, write_done);
	}
	if (nops)
		submit_ops(s, nops);
	else
		slot_done(s);
}

static void read_done(struct rs_io *io, int err)
{
	struct slot *s = io->owner;
	if (err)
		io_failed(s, err);
	else
		s->cp->r->st.bytes_read += io->len;
	if (--s->pending == 0)
		reads_done(s);
}

static struct slot *free_slot(struct copy *cp)
{
	for (unsigned i = 0; i < cp->nslots; i++)
		if (!cp->slots[i].busy)
			return &cp->slots[i];
	return NULL;
}

static bool zero_at(const struct resync_bitmap *b, uint64_t blk)
{
	return b && rs_bm_test(b, blk);
}

/* The end of the run from blk of planned blocks alike in source zeroness
 * (and, when asked, target zeroness), at most max blocks. */
static uint64_t run_end(struct copy *cp, uint64_t blk, uint64_t max, bool tgt_too)
{
	const struct rs_plan *p = cp->p;
	bool sz = zero_at(p->src_zero, blk), tz = zero_at(p->tgt_zero, blk);
	bool dg = has_digest(cp, blk);
	uint64_t end = blk + 1, limit = rs_min(p->todo->nblocks, blk + max);
	while (end < limit && rs_bm_test(p->todo, end) && zero_at(p->src_zero, end) == sz &&
	       (!tgt_too || zero_at(p->tgt_zero, end) == tz) && has_digest(cp, end) == dg)
		end++;
	return end;
}

static void start_slot(struct copy *cp, struct slot *s, uint64_t blk, uint64_t end, bool src_zero,
		       bool tgt_zero)
{
	s->busy = true;
	s->failed = false;
	s->first = blk;
	s->nblk = end - blk;
	s->off = blk * cp->p->block;
	s->len = block_bytes(cp, blk, s->nblk);
	s->src_zero = src_zero;
	s->tgt_zero = tgt_zero;
	s->by_digest = false;
	s->pending = 0;
	cp->active++;
}

/* Starts the next piece of the plan.  0: started or retired something;
 * -EAGAIN: the rate limit says wait; 1: nothing left. */
static int fill_one(struct copy *cp)
{
	struct rs_plan *p = cp->p;
	uint64_t blk = rs_bm_next_set(p->todo, cp->cursor);
	if (blk >= p->todo->nblocks) {
		cp->cursor = p->todo->nblocks;
		return 1;
	}
	bool sz = zero_at(p->src_zero, blk), tz = zero_at(p->tgt_zero, blk);
	struct slot *s;

	if (sz && tz) {
		uint64_t end = run_end(cp, blk, p->todo->nblocks - blk, true);
		cp->cursor = end;
		skip_zero(cp, blk, end - blk);
		return 0;
	}
	if (sz && !cp->compare) {
		uint64_t end = run_end(cp, blk, RS_MAX_ZERO_REQUEST / p->block, true);
		cp->cursor = end;
		s = free_slot(cp);
		start_slot(cp, s, blk, end, true, false);
		prep_io(s, &s->ops[0], cp->tgt, RS_OP_ZERO, s->off, s->len, NULL, -1, write_done);
		submit_ops(s, 1);
		return 0;
	}

	/* Comparing, only the sides with data are read: a hole against data
	 * is checked by the data's being zeroes.  Verifying blocks whose
	 * source was digested while copying, only the target is read, also
	 * where its map says zeroes (the digest is of the data). */
	bool dg = has_digest(cp, blk);
	uint64_t end = run_end(cp, blk, cp->request / p->block, cp->compare);
	uint64_t bytes = block_bytes(cp, blk, end - blk);
	if (!sz && rs_rate_take(&cp->rate, bytes, rc_now_ns()))
		return -EAGAIN;
	cp->cursor = end;
	s = free_slot(cp);
	start_slot(cp, s, blk, end, sz, cp->compare && tz && !dg);
	s->by_digest = dg;
	struct rs_io *reads[2];
	unsigned n = 0;
	if (!sz && !dg) {
		prep_io(s, &s->rd_src, cp->src, RS_OP_READ, s->off, s->len, s->sbuf, s->sidx,
			read_done);
		reads[n++] = &s->rd_src;
	}
	if (cp->compare && !s->tgt_zero) {
		prep_io(s, &s->rd_tgt, cp->tgt, RS_OP_READ, s->off, s->len, s->tbuf, s->tidx,
			read_done);
		reads[n++] = &s->rd_tgt;
	}
	s->pending = n;
	for (unsigned i = 0; i < n; i++) {
		int ret = reads[i]->ep->ops->submit(reads[i]->ep, reads[i]);
		if (ret)
			read_done(reads[i], ret);
	}
	return 0;
}

static void report_progress(struct copy *cp, uint64_t now)
{
	struct resync *r = cp->r;
	if (!r->progress || !r->progress_ms ||
	    now - cp->last_progress_ns < r->progress_ms * 1000000ull)
		return;
	cp->last_progress_ns = now;
	r->st.elapsed_ns = now - cp->start_ns;
	r->progress(&r->st, r->progress_arg);
}

static int checkpoint(struct copy *cp, uint64_t now)
{
	struct resync *r = cp->r;
	int ret = rs_flush_target(cp->tgt);
	r->st.checkpoint_flush_ns += rc_now_ns() - now;
	if (!ret)
		ret = rs_checkpoint_save(r, r->checkpoint, cp->p);
	if (!ret)
		cp->retired_saved = cp->retired;
	cp->last_checkpoint_ns = now;
	cp->bytes_since_checkpoint = 0;
	return ret;
}

static void *bg_flush_main(void *arg)
{
	struct bg_flush *b = arg;
	b->ret = b->cp->tgt->ops->flush_beside(b->cp->tgt);
	uint64_t one = 1;
	while (write(b->efd, &one, sizeof one) < 0 && errno == EINTR)
		;
	return NULL;
}

static void bg_flush_join(struct bg_flush *b)
{
	if (!b->running)
		return;
	if (!b->on_ring)
		pthread_join(b->th, NULL);
	b->running = false;
}

/* The flush is over: on success the plan it covered becomes the checkpoint. */
static void bg_flush_finish(struct bg_flush *b)
{
	struct copy *cp = b->cp;
	struct resync *r = cp->r;
	r->st.checkpoint_flush_ns += rc_now_ns() - b->start_ns;
	if (b->ret) {
		r->tgt_flush_failed = true;
		stop_with(cp, rs_fail(r, b->ret, UINT64_MAX, "%s %s: flush: %s", cp->tgt->role,
				      cp->tgt->name, strerror(-b->ret)));
		return;
	}
	struct resync_bitmap *todo = cp->p->todo;
	cp->p->todo = b->snap;
	int ret = rs_checkpoint_save(r, r->checkpoint, cp->p);
	cp->p->todo = todo;
	if (ret)
		stop_with(cp, ret);
	else
		cp->retired_saved = b->retired;
}

static void bg_flush_ring_done(void *arg, int err)
{
	struct bg_flush *b = arg;
	b->ret = err;
	b->running = false;
	bg_flush_finish(b);
}

static void bg_flush_done(struct rs_completion *c, int res)
{
	struct bg_flush *b = (struct bg_flush *)((char *)c - offsetof(struct bg_flush, comp));
	if (res >= 0 || res == -EINTR) {
		uint64_t n;
		while (read(b->efd, &n, sizeof n) < 0 && errno == EINTR)
			;
	}
	/* A failed poll is the poll's failure, not the flush's: wait for the
	 * thread all the same. */
	bg_flush_join(b);
	bg_flush_finish(b);
}

/* Starts a checkpoint whose flush runs beside the I/O in flight. */
static int bg_flush_start(struct copy *cp, uint64_t now)
{
	struct bg_flush *b = &cp->bg;
	struct resync_bitmap *todo = cp->p->todo;
	int ret;
	if (!b->snap && (ret = resync_bitmap_new(&b->snap, todo->device_size, todo->granularity)))
		return rs_fail(cp->r, ret, UINT64_MAX, "out of memory for a checkpoint");
	memcpy(b->snap->words, todo->words, todo->nwords * sizeof *todo->words);
	b->retired = cp->retired;
	b->cp = cp;
	b->ret = 0;
	b->start_ns = now;
	b->on_ring = cp->tgt->ops->flush_start != NULL;
	if (b->on_ring) {
		/* Running first: an endpoint may call done from its next pump. */
		b->running = true;
		if ((ret = cp->tgt->ops->flush_start(cp->tgt, bg_flush_ring_done, b))) {
			b->running = false;
			return rs_fail(cp->r, ret, UINT64_MAX, "%s %s: flush: %s", cp->tgt->role,
				       cp->tgt->name, strerror(-ret));
		}
	} else {
		if (b->efd < 0 && (b->efd = eventfd(0, EFD_CLOEXEC)) < 0)
			return rs_fail(cp->r, -errno, UINT64_MAX, "eventfd: %s", strerror(errno));
		b->comp.fn = bg_flush_done;
		if ((ret = pthread_create(&b->th, NULL, bg_flush_main, b)))
			return rs_fail(cp->r, -ret, UINT64_MAX, "checkpoint thread: %s",
				       strerror(ret));
		b->running = true;
		rs_ring_poll(cp->rg, b->efd, POLLIN, &b->comp);
	}
	cp->last_checkpoint_ns = now;
	cp->bytes_since_checkpoint = 0;
	return 0;
}

static void bg_free(struct bg_flush *b)
{
	if (b->efd >= 0)
		close(b->efd);
	resync_bitmap_free(b->snap);
}

static bool checkpoint_due(const struct copy *cp, uint64_t now)
{
	const struct resync *r = cp->r;
	if (!r->checkpoint || cp->pass != RS_PASS_COPY)
		return false;
	return (r->checkpoint_ms &&
		now - cp->last_checkpoint_ns >= r->checkpoint_ms * 1000000ull) ||
	       (r->checkpoint_bytes && cp->bytes_since_checkpoint >= r->checkpoint_bytes);
}

/* Time the pipeline had room and work but took none for a checkpoint's
 * sake: what a checkpoint costs the copy beyond the flush's own load on the
 * target (stats.checkpoint_hold_ns). */
static void hold_account(struct copy *cp, bool held, uint64_t now)
{
	if (held && !cp->hold_since) {
		cp->hold_since = now;
	} else if (!held && cp->hold_since) {
		cp->r->st.checkpoint_hold_ns += now - cp->hold_since;
		cp->hold_since = 0;
	}
}

static void pump(struct copy *cp)
{
	if (cp->src->ops->pump)
		cp->src->ops->pump(cp->src);
	if (cp->tgt->ops->pump)
		cp->tgt->ops->pump(cp->tgt);
}

/* The pool holds queue-depth buffers (buffers.h): a comparing slot takes
 * two, so a compare keeps as many reads in flight as a copy and no more
 * memory. */
static int init_slots(struct copy *cp, struct rs_buffers *bufs)
{
	cp->nslots = cp->compare ? rs_max(1, cp->r->queue_depth / 2) : cp->r->queue_depth;
	cp->slots = calloc(cp->nslots, sizeof *cp->slots);
	if (!cp->slots)
		return -ENOMEM;
	uint64_t per_slot = rs_max(1, cp->request / cp->p->block);
	unsigned stride = cp->compare ? 2 : 1;
	for (unsigned i = 0; i < cp->nslots; i++) {
		struct slot *s = &cp->slots[i];
		s->cp = cp;
		if (!(s->ops = calloc(per_slot, sizeof *s->ops)))
			return -ENOMEM;
		s->sbuf = bufs->mem + (size_t)i * stride * bufs->size;
		s->sidx = bufs->registered ? (int)(i * stride) : -1;
		if (cp->compare) {
			s->tbuf = s->sbuf + bufs->size;
			s->tidx = bufs->registered ? s->sidx + 1 : -1;
		}
	}
	return 0;
}

static void free_slots(struct copy *cp)
{
	for (unsigned i = 0; cp->slots && i < cp->nslots; i++)
		free(cp->slots[i].ops);
	free(cp->slots);
}

int rs_copy_pass(struct resync *r, enum rs_pass pass, struct rs_ring *rg, struct rs_buffers *bufs,
		 struct rs_endpoint *src, struct rs_endpoint *tgt, struct rs_plan *p,
		 uint32_t request)
{
	struct copy cp = {
		.r = r,
		.pass = pass,
		.compare = pass != RS_PASS_COPY || r->mode == RESYNC_COMPARE,
		.write = pass == RS_PASS_COPY,
		.zero_detect = !(r->flags & RESYNC_F_NO_ZERO_DETECT),
		.rg = rg,
		.src = src,
		.tgt = tgt,
		.p = p,
		.dg = p->digests,
		.request = request,
		.first_diff = UINT64_MAX,
		.first_unplanned = UINT64_MAX,
		.bg = { .efd = -1 },
	};
	uint64_t now = rc_now_ns();
	cp.start_ns = cp.last_checkpoint_ns = cp.last_progress_ns = now;
	/* Room for two requests, so wake-up latency is not lost to the cap. */
	rs_rate_init(&cp.rate, pass == RS_PASS_COPY ? r->rate : 0, 2ull * request, now);
	if (pass == RS_PASS_COPY)
		rs_rate_join(&cp.rate, r);
	if (init_slots(&cp, bufs)) {
		free_slots(&cp);
		return rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory for %u slots",
			       r->queue_depth);
	}

	for (;;) {
		uint64_t wait = RS_TICK_NS;
		bool paused = atomic_load(&r->paused);
		now = rc_now_ns();
		if (!cp.stop && atomic_load(&r->cancelled))
			stop_with(&cp, rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled"));
		/* A checkpoint need not drain the pipeline: a flush covers the
		 * writes completed before it is issued, and only those are retired
		 * in the plan it saves.  Completions are reaped only by
		 * rs_ring_run(), never inside a flush, so the writes still in
		 * flight stay planned until a later checkpoint.  An endpoint whose
		 * flush cannot run beside its own I/O is drained first. */
		bool due = !cp.stop && !paused && !cp.bg.running && checkpoint_due(&cp, now);
		if (due && (tgt->ops->flush_beside || tgt->ops->flush_start)) {
			int ret = bg_flush_start(&cp, now);
			if (ret)
				stop_with(&cp, ret);
			due = false;
		} else if (due && cp.active == 0) {
			int ret = checkpoint(&cp, now);
			if (ret)
				stop_with(&cp, ret);
			due = false;
		}
		/* While a flush runs the copy goes on, but no further than the
		 * byte bound past the flush's start (a bound from the last saved
		 * checkpoint would already be reached when a byte-triggered flush
		 * starts, stalling the copy behind it): a kill loses at most the
		 * flush's span, that bound and the requests in flight. */
		bool ck_hold = due || (cp.bg.running && r->checkpoint_bytes &&
				       cp.retired - cp.bg.retired >= r->checkpoint_bytes);
		bool hold = paused || ck_hold;
		hold_account(&cp,
			     ck_hold && !paused && !cp.stop && cp.active < cp.nslots &&
				     cp.cursor < p->todo->nblocks,
			     now);
		while (!cp.stop && !hold && cp.active < cp.nslots) {
			int ret = fill_one(&cp);
			if (ret == -EAGAIN)
				wait = rs_min(wait, rs_rate_wait_ns(&cp.rate, rc_now_ns()));
			if (ret)
				break;
		}
		if (cp.active == 0 && !cp.bg.running && (cp.stop || cp.cursor >= p->todo->nblocks))
			break;

		if (!paused)
			cp.paused_checkpointed = false;
		/* Once paused and drained the progress is saved too, so a
		 * suspended job may be killed without losing it. */
		if (cp.active == 0 && !cp.bg.running && paused && !cp.stop &&
		    !cp.paused_checkpointed && r->checkpoint && pass == RS_PASS_COPY) {
			int ret = checkpoint(&cp, now);
			if (ret)
				stop_with(&cp, ret);
			cp.paused_checkpointed = paused;
			continue;
		}
		report_progress(&cp, now);
		pump(&cp);
		int ret = rs_ring_run(rg, wait);
		if (ret < 0) {
			/* The ring itself failed: completions may be lost, so
			 * nothing in flight can be waited for. */
			bg_flush_join(&cp.bg);
			bg_free(&cp.bg);
			free_slots(&cp);
			return rs_fail(r, ret, UINT64_MAX, "io_uring: %s", strerror(-ret));
		}
	}
	hold_account(&cp, false, rc_now_ns());
	bg_free(&cp.bg);
	free_slots(&cp);

	if (cp.first_unplanned != UINT64_MAX && (!cp.err || cp.err == -EILSEQ))
		return rs_fail(r, -EILSEQ, cp.first_diff,
			       "source and target differ: first difference at offset %" PRIu64
			       "; offset %" PRIu64 " lies outside the blocks the change record "
			       "named, so the change record is wrong: compare the whole disk",
			       cp.first_diff, cp.first_unplanned);
	if (cp.first_diff != UINT64_MAX && !cp.write && (!cp.err || cp.err == -EILSEQ))
		return rs_fail(r, -EILSEQ, cp.first_diff,
			       "source and target differ: first difference at offset %" PRIu64,
			       cp.first_diff);
	return cp.err;
}
