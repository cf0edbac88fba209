/* SPDX-License-Identifier: MIT */
/* resync_run(): open, check, plan, copy, flush, verify. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "buffers.h"
#include "checkpoint.h"
#include "clock.h"
#include "copy.h"
#include "digest.h"
#include "endpoint.h"
#include "internal.h"
#include "plan.h"
#include "tune.h"
#include "verify.h"

struct run {
	struct resync *r;
	struct rs_endpoint src, tgt;
	struct rs_ring rg;
	bool ring_ready;
	struct rs_buffers *bufs;
	struct rs_plan plan;
	struct rs_digests *digests; /* of the planned blocks' source data (copy.h) */
	uint32_t request;
	uint64_t verify_seed[4];
};

static int check_endpoints(struct resync *r, const struct rs_endpoint *src,
			   const struct rs_endpoint *tgt)
{
	if ((src->id_dev || src->id_ino) && src->id_dev == tgt->id_dev &&
	    src->id_ino == tgt->id_ino && src->is_block == tgt->is_block)
		return rs_fail(r, -EINVAL, UINT64_MAX, "source %s and target %s are the same %s",
			       src->name, tgt->name, src->is_block ? "device" : "file");
	if (tgt->size < src->size)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "target %s (%" PRIu64 " bytes) is smaller than source %s (%" PRIu64
			       " bytes)",
			       tgt->name, tgt->size, src->name, src->size);
	return 0;
}

/* The longest run of planned blocks, in bytes: no request is ever longer. */
static uint64_t longest_run(const struct resync_bitmap *todo)
{
	uint64_t best = 0;
	for (uint64_t b = rs_bm_next_set(todo, 0); b < todo->nblocks;) {
		uint64_t e = rs_bm_next_clear(todo, b);
		best = rs_max(best, e - b);
		b = rs_bm_next_set(todo, e);
	}
	return best * todo->granularity;
}

/* The request size: the caller's, within what both endpoints take, no longer
 * than the plan's longest run unless a full verify follows (so a delta of small
 * pieces pins no more buffer memory than it can use), and a whole number of
 * plan blocks.  A block larger
 * than an endpoint's largest transfer is refused here, before anything is
 * read. */
static int request_size(struct run *rn)
{
	struct rs_endpoint *eps[] = { &rn->src, &rn->tgt };
	uint64_t req = rn->r->request_size;
	/* A full verify reads the whole disk with the same buffers. */
	if (rs_verify_mode(rn->r) != RESYNC_VERIFY_FULL)
		req = rs_min(req, longest_run(rn->plan.todo));
	for (int i = 0; i < 2; i++) {
		if (!eps[i]->max_request)
			continue;
		if (eps[i]->max_request < rn->plan.block)
			return rs_fail(
				rn->r, -EINVAL, UINT64_MAX,
				"%s %s takes at most %u bytes per request, less than the block "
				"size %u",
				eps[i]->role, eps[i]->name, eps[i]->max_request, rn->plan.block);
		req = rs_min(req, eps[i]->max_request);
	}
	/* An endpoint's own preference beats our guess of what it works best
	 * with (tune.c chose the size from it). */
	for (int i = 0; i < 2; i++)
		if (eps[i]->want_request)
			req = rs_min(req, rs_max(eps[i]->want_request, eps[i]->pref_request));
	rn->request = (uint32_t)rs_max(rs_align_down(req, rn->plan.block), rn->plan.block);
	return 0;
}

/* Completes the verbose report (tune.c): what the plan and the endpoints'
 * limits left of the chosen request size, and how the target is written. */
static void say_requests(struct run *rn)
{
	struct resync *r = rn->r;
	size_t n = strlen(r->io_choice);
	if (rn->request < r->request_size)
		n += (size_t)snprintf(r->io_choice + n, sizeof r->io_choice - n,
				      "; requests of %" PRIu32
				      " KiB at most (the plan's longest run or an endpoint's limit)",
				      rn->request >> 10);
	r->request_size = rn->request;
	r->write_chosen = rn->tgt.writeback ? RESYNC_WRITE_BUFFERED : RESYNC_WRITE_DIRECT;
	if (n < sizeof r->io_choice && rn->tgt.ops == &rs_file_ops)
		snprintf(r->io_choice + n, sizeof r->io_choice - n, "; target written %s",
			 rn->tgt.writeback ? r->write_why :
			 rn->tgt.direct    ? "with O_DIRECT" :
					     "buffered");
}

/* The buffers a run holds at queue depth d: a comparing slot holds two
 * (copy.c), so at depth 1 too; the digest compare keeps a hashing and a
 * copying buffer per slot at the full depth (digest_compare.c). */
static unsigned buffers_at(const struct resync *r, bool two, unsigned d)
{
	return r->digest_fd >= 0 ? 2 * d : two ? (unsigned)rs_max(d, 2) : d;
}

static uint64_t bitmap_bytes(const struct resync_bitmap *b)
{
	return b ? b->nwords * sizeof *b->words : 0;
}

/* Within resync_set_memory_limit(): the plan's bitmaps and the verify
 * digests are held whatever the depth, the buffers shrink with it.  Smaller
 * requests first, down to a block, so the depth that hides the endpoints'
 * latency stays (two disks behind 2 ms servers lose more to a shallow queue
 * than to small requests); then a lower depth, below tune.c's choice or the
 * caller's.  The verbose report says what the limit took. */
static int fit_memory(struct run *rn, bool two, bool dry)
{
	struct resync *r = rn->r;
	const struct rs_plan *p = &rn->plan;
	uint64_t tables = bitmap_bytes(p->todo) + bitmap_bytes(p->src_zero) +
			  bitmap_bytes(p->tgt_zero) + bitmap_bytes(p->planned) +
			  (p->planned && !dry ? rs_digests_bytes(p->planned) : 0);
	uint64_t limit = r->memory_limit;
	unsigned d = r->queue_depth;
	uint32_t req = rn->request;
	while (limit && req > p->block && tables + (uint64_t)buffers_at(r, two, d) * req > limit)
		req = (uint32_t)rs_max(rs_align_down(req / 2, p->block), p->block);
	while (limit && d > 1 && tables + (uint64_t)buffers_at(r, two, d) * req > limit)
		d--;
	r->memory_used = tables + (uint64_t)buffers_at(r, two, d) * req;
	if (limit && r->memory_used > limit)
		return rs_fail(r, -ENOMEM, UINT64_MAX,
			       "memory limit %" PRIu64 " cannot hold the plan: %" PRIu64
			       " bytes of bitmaps and digests and %u buffers of %u bytes "
			       "at queue depth 1",
			       limit, tables, buffers_at(r, two, 1), req);
	if (req < rn->request || d < r->queue_depth) {
		size_t n = strlen(r->io_choice);
		snprintf(r->io_choice + n, sizeof r->io_choice - n,
			 "; requests of %" PRIu32 " KiB at depth %u within the memory limit",
			 req >> 10, d);
	}
	rn->request = r->request_size = req;
	r->queue_depth = d;
	return 0;
}

static unsigned ring_entries(unsigned depth)
{
	unsigned n = 64;
	while (n < depth * 4 && n < 4096)
		n <<= 1;
	return n;
}

/* The ring comes first: the plan already reads through it (the source's
 * fingerprint for the checkpoint), before the request size is known. */
static int setup_ring(struct run *rn)
{
	struct resync *r = rn->r;
	int ret = rs_ring_init(&rn->rg, ring_entries(r->queue_depth));
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "io_uring_queue_init: %s", strerror(-ret));
	rn->ring_ready = true;
	if (rn->src.ops->attach && (ret = rn->src.ops->attach(&rn->src, &rn->rg)))
		return ret;
	if (rn->tgt.ops->attach && (ret = rn->tgt.ops->attach(&rn->tgt, &rn->rg)))
		return ret;
	return 0;
}

/* Entering a phase is reported at once (when reports are asked for at an
 * interval): a caller sees open, plan and flush, and may cancel there. */
static void set_phase(struct resync *r, enum resync_phase ph)
{
	r->st.phase = ph;
	if (r->progress && r->progress_ms && ph != RESYNC_PHASE_DONE) {
		r->st.elapsed_ns = rc_now_ns() - r->run_start_ns;
		r->progress(&r->st, r->progress_arg);
	}
}

/* After a failure or cancel: what was retired is flushed and recorded, so a
 * rerun resumes from there.  Without a successful flush nothing is recorded,
 * and once a flush of the target failed nothing is flushed or recorded: that
 * flush's writes may be lost although a second flush succeeds, so the last
 * checkpoint saved before it stays as it was. */
static void save_progress(struct run *rn)
{
	struct resync *r = rn->r;
	if (!r->checkpoint || (r->flags & RESYNC_F_DRY_RUN) || !rn->plan.todo ||
	    r->tgt_flush_failed)
		return;
	char err[sizeof r->err];
	int code = r->err_code;
	uint64_t off = r->err_off;
	memcpy(err, r->err, sizeof err);
	if (!rs_flush_target(&rn->tgt))
		rs_checkpoint_save(r, r->checkpoint, &rn->plan);
	/* The first failure is the one to report. */
	memcpy(r->err, err, sizeof err);
	r->err_code = code;
	r->err_off = off;
}

/* Re-reads the verify set (verify.h) on both sides; the pass learns from
 * the kept plan which differences lie outside it. */
static int verify(struct run *rn)
{
	struct resync *r = rn->r;
	struct resync_bitmap *todo;
	struct rs_plan v;
	set_phase(r, RESYNC_PHASE_VERIFY);
	/* The copy's maps are done with (its checkpoint is complete): their
	 * memory goes to the verify plan's. */
	resync_bitmap_free(rn->plan.src_zero);
	resync_bitmap_free(rn->plan.tgt_zero);
	rn->plan.src_zero = rn->plan.tgt_zero = NULL;
	int ret = rs_verify_blocks(r, rs_verify_mode(r), rn->plan.planned, rn->verify_seed, &todo);
	if (ret)
		return ret;
	/* Allocation is asked again: the copy changed the target's. */
	ret = rs_plan_from(r, &rn->src, &rn->tgt, rn->plan.block, todo, &v);
	v.planned = rn->plan.planned;
	v.digests = rn->digests;
	rn->plan.planned = NULL;
	if (!ret)
		ret = rs_copy_pass(r, RS_PASS_VERIFY, &rn->rg, rn->bufs, &rn->src, &rn->tgt, &v,
				   rn->request);
	/* The digests index the planned map, which goes with v. */
	rs_digests_free(rn->digests);
	rn->digests = NULL;
	rs_plan_free(&v);
	return ret;
}

static int run(struct run *rn)
{
	struct resync *r = rn->r;
	bool check_only = r->flags & RESYNC_F_CHECK_ONLY;
	bool dry = r->flags & RESYNC_F_DRY_RUN;
	bool compare = dry || r->mode == RESYNC_COMPARE;

	set_phase(r, RESYNC_PHASE_OPEN);
	int ret = rs_check_cancel(r);
	if (!ret)
		ret = rs_endpoint_open(r, &rn->src, r->source, "source", false);
	if (!ret)
		ret = rs_check_cancel(r);
	if (!ret)
		ret = rs_endpoint_open(r, &rn->tgt, r->target, "target", !dry);
	if (!ret)
		ret = rs_check_cancel(r);
	if (!ret)
		ret = check_endpoints(r, &rn->src, &rn->tgt);
	if (!ret)
		rs_tune(r, &rn->src, &rn->tgt);
	if (!ret && r->digest_fd >= 0 && r->mode != RESYNC_COMPARE)
		ret = rs_fail(r, -EINVAL, UINT64_MAX,
			      "a digest source compares: the mode must be compare");
	if (ret)
		return ret;
	r->st.size = rn->src.size;
	r->st.source_direct = rn->src.direct;
	r->st.target_direct = rn->tgt.direct;
	if ((ret = setup_ring(rn)))
		return ret;

	set_phase(r, RESYNC_PHASE_PLAN);
	ret = rs_plan_build(r, &rn->rg, &rn->src, &rn->tgt, &rn->plan);
	if (!ret)
		ret = rs_check_cancel(r);
	if (ret)
		return ret;
	ret = request_size(rn);
	if (ret || check_only)
		return ret;
	say_requests(rn);
	if (rs_verify_mode(r) == RESYNC_VERIFY_SAMPLE && !dry &&
	    (ret = rs_verify_seed(r, rn->verify_seed)))
		return ret;
	r->st.resumed = (uint32_t)rn->plan.resumed;
	bool two = compare || rs_verify_mode(r) != RESYNC_VERIFY_NONE;
	if ((ret = fit_memory(rn, two, dry)))
		return ret;
	ret = rs_buffers_new(r, &rn->rg, buffers_at(r, two, r->queue_depth), rn->request,
			     &rn->bufs);
	/* The digest compare narrows the plan to the blocks whose digests
	 * differ and, unless dry, writes those from the source as it finds
	 * them, flushing the target before it returns.  Nothing is
	 * checkpointed during it: an earlier checkpoint (a resume) still lists
	 * what it wrote, and the first save below follows its flush. */
	if (!ret && r->digest_fd >= 0)
		ret = rs_digest_compare(r, &rn->rg, rn->bufs, &rn->src, &rn->tgt, &rn->plan,
					rn->request);
	if (ret)
		return ret;
	/* What the digest compare already wrote counts as planned and done. */
	r->st.bytes_planned = r->st.bytes_done + resync_bitmap_dirty_bytes(rn->plan.todo);
	if (rn->plan.planned && !dry) {
		if ((ret = rs_digests_new(rn->plan.planned, &rn->digests)))
			return rs_fail(r, ret, UINT64_MAX, "out of memory for the verify digests");
		rn->plan.digests = rn->digests;
	}
	/* Recorded before the first write, so a crash at any point resumes. */
	if (r->checkpoint && !dry && !rn->plan.resumed &&
	    (ret = rs_checkpoint_save(r, r->checkpoint, &rn->plan)))
		return ret;

	set_phase(r, RESYNC_PHASE_COPY);
	enum rs_pass pass = !dry                           ? RS_PASS_COPY :
			    r->flags & RESYNC_F_FIRST_DIFF ? RS_PASS_FIRST_DIFF :
							     RS_PASS_COMPARE;
	ret = rs_copy_pass(r, pass, &rn->rg, rn->bufs, &rn->src, &rn->tgt, &rn->plan, rn->request);
	if (ret) {
		save_progress(rn);
		return ret;
	}
	if (dry)
		return 0;

	set_phase(r, RESYNC_PHASE_FLUSH);
	/* A failed flush keeps the last checkpoint: everything it records was
	 * flushed, so a rerun redoes only what came after it.  A cancel here
	 * skips the flush on the same terms. */
	ret = rs_check_cancel(r);
	if (!ret)
		ret = rs_flush_target(&rn->tgt);
	if (ret)
		return ret;
	if (rs_verify_mode(r) != RESYNC_VERIFY_NONE)
		ret = verify(rn);
	/* Every planned block is on stable storage now: a rerun after a failed
	 * verify must plan again rather than resume an empty checkpoint. */
	if (r->checkpoint) {
		int rm = rs_checkpoint_remove(r, r->checkpoint);
		if (!ret)
			ret = rm;
	}
	return ret;
}

int resync_run(resync *r)
{
	if (!r || !r->source || !r->target)
		return -EINVAL;
	if (r->running)
		return -EBUSY;
	r->running = 1;
	memset(&r->st, 0, sizeof r->st);
	r->resume_refused[0] = 0;
	r->io_choice[0] = 0;
	r->write_chosen = RESYNC_WRITE_AUTO;
	r->request_size = r->user_request ? r->user_request : RS_DEFAULT_REQUEST_SIZE;
	r->queue_depth = r->user_depth ? r->user_depth : RS_DEFAULT_QUEUE_DEPTH;
	r->tgt_flush_failed = false;
	r->memory_used = 0;
	rs_clear_error(r);
	uint64_t start = r->run_start_ns = rc_now_ns();

	struct run rn = { .r = r };
	int ret = run(&rn);

	rs_buffers_free(rn.bufs);
	rs_digests_free(rn.digests);
	rs_plan_free(&rn.plan);
	rs_endpoint_close(&rn.src);
	rs_endpoint_close(&rn.tgt);
	if (rn.ring_ready)
		rs_ring_exit(&rn.rg);

	r->st.elapsed_ns = rc_now_ns() - start;
	if (!ret)
		set_phase(r, RESYNC_PHASE_DONE);
	if (r->progress)
		r->progress(&r->st, r->progress_arg);
	/* A cancel is for the run it stopped (or the one it found starting). */
	atomic_store(&r->cancelled, 0);
	r->running = 0;
	return ret;
}
