/* SPDX-License-Identifier: MIT */
/* Turning every extent source into the plan's block bitmaps. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "checkpoint.h"
#include "internal.h"
#include "plan.h"

/* One bitmap of a run stays within this many blocks (32 MiB of bits). */
#define RS_MAX_PLAN_BLOCKS (1ull << 28)

/* The caller's block size, raised to the change bitmap's granularity (copying
 * in its units writes exactly the changed blocks), to both endpoints'
 * alignment, and until one bitmap fits RS_MAX_PLAN_BLOCKS. */
static int block_size(struct resync *r, const struct rs_endpoint *src,
		      const struct rs_endpoint *tgt, const struct resync_bitmap *change,
		      uint32_t *block)
{
	uint64_t b = change ? rs_max(change->granularity, RS_MIN_REQUEST_SIZE) : r->block_size;
	/* A valid bitmap the copy cannot use: a capability, not a bad value. */
	if (change && change->granularity > RS_MAX_REQUEST_SIZE)
		return rs_fail(r, -EOPNOTSUPP, UINT64_MAX,
			       "change bitmap %s: granularity %u is coarser than the largest request "
			       "(%u bytes)",
			       r->mode_arg, change->granularity, RS_MAX_REQUEST_SIZE);
	b = rs_max(b, rs_max(src->align, tgt->align));
	while (src->size / b >= RS_MAX_PLAN_BLOCKS)
		b <<= 1;
	if (!rs_is_pow2(b) || b > RS_MAX_REQUEST_SIZE)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "block size %" PRIu64
			       " is not a power of two up to 64 MiB (endpoint "
			       "alignment %u/%u)",
			       b, src->align, tgt->align);
	*block = (uint32_t)b;
	return 0;
}

static int load_change_bitmap(struct resync *r, uint64_t size, struct resync_bitmap **out)
{
	struct resync_bitmap *cb;
	int ret = resync_bitmap_load(&cb, r->mode_arg);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "change bitmap %s: %s", r->mode_arg,
			       *resync_bitmap_load_error() ? resync_bitmap_load_error() :
							     strerror(-ret));
	if (cb->device_size != size) {
		ret = rs_fail(r, -EINVAL, UINT64_MAX,
			      "change bitmap %s covers %" PRIu64
			      " bytes but the source has %" PRIu64 " (wrong size)",
			      r->mode_arg, cb->device_size, size);
		resync_bitmap_free(cb);
		return ret;
	}
	*out = cb;
	return 0;
}

/* Marking into a bitmap, with a cancel seen between extents (an NBD
 * block-status walk may take many replies). */
struct mark_ctx {
	struct resync *r;
	struct resync_bitmap *into;
};

static int mark(void *arg, uint64_t off, uint64_t len)
{
	struct mark_ctx *m = arg;
	int ret = rs_check_cancel(m->r);
	return ret ? ret : resync_bitmap_mark(m->into, off, len);
}

static int mark_zero(void *arg, uint64_t off, uint64_t len)
{
	rs_bm_set_inner(arg, off, len);
	return 0;
}

static int todo_from_bitmap(const struct resync_bitmap *change, struct resync_bitmap *into)
{
	uint64_t off = 0, len;
	int ret = 0;
	while (!ret && resync_bitmap_next(change, &off, &len) == 1) {
		ret = resync_bitmap_mark(into, off, len);
		off += len;
	}
	return ret;
}

/* Marks in `into` the blocks the mode names. */
static int todo_from_source(struct resync *r, struct rs_endpoint *src,
			    const struct resync_bitmap *change, uint64_t size,
			    struct resync_bitmap *into)
{
	struct mark_ctx m = { r, into };
	switch (r->mode) {
	case RESYNC_FULL:
	case RESYNC_COMPARE:
		rs_bm_set_blocks(into, 0, into->nblocks);
		return 0;
	case RESYNC_EXTENTS:
		return rs_extent_list_read(r, r->mode_arg, size, mark, &m);
	case RESYNC_BITMAP:
		return todo_from_bitmap(change, into);
	case RESYNC_NBD_DIRTY:
		if (!src->ops->dirty_extents)
			return rs_fail(r, -ENOTSUP, UINT64_MAX,
				       "source %s is not an NBD export: nbd-dirty needs its "
				       "qemu:dirty-bitmap:%s context",
				       src->name, r->mode_arg);
		return src->ops->dirty_extents(src, r->mode_arg, 0, size, mark, &m);
	}
	return -EINVAL;
}

/* What verify calls the plan: the mode's blocks, plus (when resuming) what
 * the checkpoint still holds, so blocks retired by the earlier run are
 * verified as planned ones too. */
static int keep_planned(struct resync *r, struct rs_endpoint *src,
			const struct resync_bitmap *change, struct rs_plan *p)
{
	int ret = resync_bitmap_new(&p->planned, p->size, p->block);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "out of memory for the verify plan");
	if (p->resumed && (ret = todo_from_source(r, src, change, p->size, p->planned)))
		return ret;
	for (uint64_t i = 0; i < p->todo->nwords; i++)
		p->planned->words[i] |= p->todo->words[i];
	return 0;
}

/* The end of the query from the planned run [off, end): the later runs that
 * end within the endpoint's query span from off ride along (a verify sample
 * is thousands of single blocks; the map marks the gaps too, which no one
 * reads). */
static uint64_t query_end(const struct rs_endpoint *ep, const struct resync_bitmap *todo,
			  uint64_t off, uint64_t end)
{
	uint64_t next = end, len;
	while (ep->zero_query_span && resync_bitmap_next(todo, &next, &len) == 1 &&
	       next + len - off <= ep->zero_query_span) {
		end = next + len;
		next = end;
	}
	return end;
}

/* Asks an endpoint which planned ranges read as zeroes. */
static int zero_map(struct rs_endpoint *ep, struct rs_plan *p, struct resync_bitmap **out)
{
	if (!ep->ops->zero_extents)
		return 0;
	int ret = resync_bitmap_new(out, p->size, p->block);
	if (ret)
		return ret;
	uint64_t off = 0, len;
	while (!ret && resync_bitmap_next(p->todo, &off, &len) == 1) {
		if ((ret = rs_check_cancel(ep->r)))
			return ret;
		uint64_t end = query_end(ep, p->todo, off, off + len);
		ret = ep->ops->zero_extents(ep, off, end - off, mark_zero, *out);
		off = end;
	}
	if (ret)
		return rs_fail(ep->r, ret, UINT64_MAX, "%s %s: reading its allocation: %s",
			       ep->role, ep->name, strerror(-ret));
	return 0;
}

/* Both sides' maps: copying, the target's spares zeroing what already reads
 * as zeroes; comparing, a range that reads as zeroes on both sides is equal
 * unread, and on one side only the other side is read. */
static int zero_maps(struct rs_endpoint *src, struct rs_endpoint *tgt, struct rs_plan *p)
{
	int ret = zero_map(src, p, &p->src_zero);
	return ret ? ret : zero_map(tgt, p, &p->tgt_zero);
}

int rs_plan_build(struct resync *r, struct rs_ring *rg, struct rs_endpoint *src,
		  struct rs_endpoint *tgt, struct rs_plan *p)
{
	memset(p, 0, sizeof *p);
	p->size = src->size;
	p->progress = true;

	struct resync_bitmap *change = NULL;
	int ret = r->mode == RESYNC_BITMAP ? load_change_bitmap(r, p->size, &change) : 0;
	if (!ret)
		ret = block_size(r, src, tgt, change, &p->block);
	if (!ret && r->checkpoint)
		ret = rs_checkpoint_load(r, r->checkpoint, rg, src, tgt, change, p, &p->todo);
	p->resumed = ret == 1;
	if (ret == 0) {
		ret = resync_bitmap_new(&p->todo, p->size, p->block);
		if (ret == -ENOMEM)
			ret = rs_fail(r, ret, UINT64_MAX, "out of memory for the plan");
		if (!ret)
			ret = todo_from_source(r, src, change, p->size, p->todo);
	}
	if (ret >= 0 && rs_verify_mode(r) != RESYNC_VERIFY_NONE && !(r->flags & RESYNC_F_DRY_RUN))
		ret = keep_planned(r, src, change, p);
	resync_bitmap_free(change);
	if (ret < 0)
		return ret;
	return zero_maps(src, tgt, p);
}

int rs_plan_from(struct resync *r, struct rs_endpoint *src, struct rs_endpoint *tgt, uint32_t block,
		 struct resync_bitmap *todo, struct rs_plan *p)
{
	memset(p, 0, sizeof *p);
	p->block = block;
	p->size = src->size;
	p->todo = todo;
	return zero_maps(src, tgt, p);
}

void rs_plan_free(struct rs_plan *p)
{
	resync_bitmap_free(p->todo);
	resync_bitmap_free(p->src_zero);
	resync_bitmap_free(p->tgt_zero);
	resync_bitmap_free(p->planned);
	memset(p, 0, sizeof *p);
}
