/* SPDX-License-Identifier: MIT */
/* Checkpoints: saving, removing, and deciding whether one may be resumed
 * (checkpoint.h says what it is bound to).  Every digest is a one-shot XXH3
 * call: nothing to allocate, so nothing can silently come out as zero. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "checkpoint.h"
#include "clock.h"
#include "durable.h"
#include "internal.h"

#define FP_UNIT 4096u
#define FP_BLOCKS (3 + RS_FINGERPRINT_RANDOM)
#define FP_TICK_NS (50ull * 1000000)

enum part { PART_SOURCE, PART_TARGET, PART_DECISION, PART_CONTENT, NPARTS };

struct fp_read {
	unsigned pending;
	int err;
};

static void fp_done(struct rs_io *io, int err)
{
	struct fp_read *f = io->owner;
	f->pending--;
	if (err && !f->err)
		f->err = err;
}

/* Reads the source's first, middle and last block and RS_FINGERPRINT_RANDOM
 * blocks picked by seed, through the endpoint's asynchronous path (an NBD
 * source's stall timeout applies), and digests them. */
static int fingerprint(struct resync *r, struct rs_ring *rg, struct rs_endpoint *src, uint64_t seed,
		       uint64_t *out)
{
	uint64_t unit = rs_align_up(FP_UNIT, rs_max(src->align, 1));
	uint64_t units = (src->size + unit - 1) / unit;
	*out = XXH3_64bits_withSeed(NULL, 0, seed);
	if (!units)
		return 0;
	char *buf;
	if (posix_memalign((void **)&buf, 4096, FP_BLOCKS * unit))
		return rs_fail(r, -ENOMEM, UINT64_MAX,
			       "out of memory for the source's fingerprint");
	memset(buf, 0, FP_BLOCKS * unit);
	struct rs_io io[FP_BLOCKS];
	struct fp_read f = { 0, 0 };
	for (unsigned i = 0; i < FP_BLOCKS; i++) {
		uint64_t k = i == 0 ? 0 :
			     i == 1 ? units / 2 :
			     i == 2 ? units - 1 :
				      XXH3_64bits_withSeed(&i, sizeof i, seed) % units;
		io[i] = (struct rs_io){
			.ep = src,
			.op = RS_OP_READ,
			.off = k * unit,
			.len = rs_min(unit, src->size - k * unit),
			.buf = buf + i * unit,
			.buf_index = -1,
			.cb = fp_done,
			.owner = &f,
		};
		f.pending++;
		int ret = src->ops->submit(src, &io[i]);
		if (ret) {
			f.pending--;
			f.err = ret;
			break;
		}
	}
	while (f.pending) {
		if (src->ops->pump)
			src->ops->pump(src);
		int ret = rs_ring_run(rg, FP_TICK_NS);
		if (ret < 0) {
			/* Completions may be lost: the reads cannot be waited for,
			 * and the buffer must outlive them. */
			rs_fail(r, ret, UINT64_MAX, "io_uring: %s", strerror(-ret));
			return ret;
		}
	}
	if (!f.err)
		*out = XXH3_64bits_withSeed(buf, FP_BLOCKS * unit, seed);
	free(buf);
	return f.err;
}

/* An extent list is what it says: its content. */
static int file_digest(struct resync *r, const char *path, XXH128_hash_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		int err = -errno;
		if (fd >= 0)
			close(fd);
		return rs_fail(r, err, UINT64_MAX, "extent list %s: %s", path, strerror(-err));
	}
	size_t len = (size_t)st.st_size, got = 0;
	char *buf = malloc(len ? len : 1);
	int err = buf ? 0 : -ENOMEM;
	while (!err && got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n == 0)
			break;
		else if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	if (!err)
		*out = XXH3_128bits(buf, got);
	free(buf);
	if (err)
		return rs_fail(r, err, UINT64_MAX, "extent list %s: %s", path, strerror(-err));
	return 0;
}

/* What decides the blocks: mode, block size, sizes and the change record. */
static int decision(struct resync *r, const struct rs_endpoint *src, const struct rs_endpoint *tgt,
		    const struct resync_bitmap *change, uint32_t block, XXH128_hash_t *out)
{
	struct {
		uint32_t mode, block;
		uint64_t src_size, tgt_size;
		XXH128_hash_t record, name;
	} d;
	memset(&d, 0, sizeof d);
	d.mode = (uint32_t)r->mode;
	d.block = block;
	d.src_size = src->size;
	d.tgt_size = tgt->size;
	if (change) {
		struct {
			uint64_t size, flags;
			uint32_t granularity, pad;
			uint8_t generation[16], disk_id[16];
			XXH128_hash_t bits;
		} c;
		memset(&c, 0, sizeof c);
		c.size = change->device_size;
		c.flags = change->flags;
		c.granularity = change->granularity;
		memcpy(c.generation, change->generation, 16);
		memcpy(c.disk_id, change->disk_id, 16);
		c.bits = XXH3_128bits(change->words, change->nwords * sizeof *change->words);
		d.record = XXH3_128bits(&c, sizeof c);
	} else if (r->mode == RESYNC_EXTENTS) {
		int ret = file_digest(r, r->mode_arg, &d.record);
		if (ret)
			return ret;
	} else if (r->mode_arg) {
		d.name = XXH3_128bits(r->mode_arg, strlen(r->mode_arg));
	}
	*out = XXH3_128bits(&d, sizeof d);
	return 0;
}

static uint64_t new_seed(void)
{
	uint64_t s;
	/* The seed only spreads the sampled blocks: without the entropy pool
	 * the clock spreads them as well. */
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) != sizeof s)
		s = rc_now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	return s & 0x00ffffffffffffffull;
}

/* The identity for this seed: p->identity and p->record. */
static int identify(struct resync *r, struct rs_ring *rg, struct rs_endpoint *src,
		    const struct rs_endpoint *tgt, const struct resync_bitmap *change,
		    uint64_t seed, struct rs_plan *p)
{
	struct {
		uint8_t src[16], tgt[16];
		XXH128_hash_t decision;
		uint64_t content, seed;
	} id;
	memset(&id, 0, sizeof id);
	memcpy(id.src, src->identity, 16);
	memcpy(id.tgt, tgt->identity, 16);
	id.seed = seed;
	int ret = decision(r, src, tgt, change, p->block, &id.decision);
	if (!ret)
		ret = fingerprint(r, rg, src, seed, &id.content);
	if (ret)
		return ret;
	XXH128_canonicalFromHash((XXH128_canonical_t *)p->identity, XXH3_128bits(&id, sizeof id));
	uint16_t tags[NPARTS] = {
		[PART_SOURCE] = (uint16_t)XXH3_64bits(id.src, 16),
		[PART_TARGET] = (uint16_t)XXH3_64bits(id.tgt, 16),
		[PART_DECISION] = (uint16_t)id.decision.low64,
		[PART_CONTENT] = (uint16_t)id.content,
	};
	p->record[0] = RS_CHECKPOINT_RECORD_VERSION;
	for (int i = 1; i < 8; i++)
		p->record[i] = (uint8_t)(seed >> (8 * (i - 1)));
	for (int i = 0; i < NPARTS; i++) {
		p->record[8 + 2 * i] = (uint8_t)tags[i];
		p->record[9 + 2 * i] = (uint8_t)(tags[i] >> 8);
	}
	return 0;
}

static uint64_t record_seed(const uint8_t rec[16])
{
	uint64_t s = 0;
	for (int i = 7; i >= 1; i--)
		s = s << 8 | rec[i];
	return s;
}

/* Says which parts of the identity differ, from the tags. */
static void refuse(struct resync *r, const char *path, const struct rs_endpoint *src,
		   const struct rs_endpoint *tgt, const uint8_t old[16], const uint8_t now[16])
{
	char why[384] = "";
	size_t n = 0;
	const char *parts[NPARTS] = { NULL };
	if (old[0] != RS_CHECKPOINT_RECORD_VERSION) {
		n += (size_t)snprintf(why, sizeof why, "it was made by another version of resync");
	} else {
		char s[160], t[160];
		snprintf(s, sizeof s, "the source %s is not the file or device it was made for",
			 src->name);
		snprintf(t, sizeof t, "the target %s is not the file or device it was made for",
			 tgt->name);
		parts[PART_SOURCE] = s;
		parts[PART_TARGET] = t;
		parts[PART_DECISION] = "the mode, block size, sizes or change record differ";
		parts[PART_CONTENT] = "the source no longer reads the same (content fingerprint)";
		for (int i = 0; i < NPARTS; i++)
			if ((old[8 + 2 * i] != now[8 + 2 * i] ||
			     old[9 + 2 * i] != now[9 + 2 * i]) &&
			    n < sizeof why)
				n += (size_t)snprintf(why + n, sizeof why - n, "%s%s",
						      n ? "; " : "", parts[i]);
		if (!n)
			snprintf(why, sizeof why, "it was made for another copy");
	}
	snprintf(r->resume_refused, sizeof r->resume_refused,
		 "checkpoint %s not resumed, starting over: %s", path, why);
	r->st.resume_refused = 1;
}

int rs_checkpoint_load(struct resync *r, const char *path, struct rs_ring *rg,
		       struct rs_endpoint *src, const struct rs_endpoint *tgt,
		       const struct resync_bitmap *change, struct rs_plan *p,
		       struct resync_bitmap **out)
{
	if (access(path, F_OK) && errno == ENOENT)
		return identify(r, rg, src, tgt, change, new_seed(), p);
	struct resync_bitmap *b;
	int ret = resync_bitmap_load(&b, path);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "checkpoint %s: %s", path,
			       *resync_bitmap_load_error() ? resync_bitmap_load_error() :
							     strerror(-ret));
	if (!(b->flags & RESYNC_BITMAP_F_CHECKPOINT)) {
		resync_bitmap_free(b);
		return rs_fail(r, -EEXIST, UINT64_MAX,
			       "checkpoint %s exists and is not a checkpoint (a change bitmap?); "
			       "refusing to overwrite it",
			       path);
	}
	bool known = b->generation[0] == RS_CHECKPOINT_RECORD_VERSION;
	ret = identify(r, rg, src, tgt, change, known ? record_seed(b->generation) : new_seed(), p);
	if (!ret && known && !memcmp(b->disk_id, p->identity, 16) && b->device_size == p->size &&
	    b->granularity == p->block) {
		*out = b;
		return 1;
	}
	if (!ret)
		refuse(r, path, src, tgt, b->generation, p->record);
	resync_bitmap_free(b);
	/* The fingerprint of another seed is not the one to record. */
	if (!ret && known)
		ret = identify(r, rg, src, tgt, change, new_seed(), p);
	return ret;
}

int rs_checkpoint_save(struct resync *r, const char *path, struct rs_plan *p)
{
	p->todo->flags = RESYNC_BITMAP_F_CHECKPOINT;
	memcpy(p->todo->disk_id, p->identity, 16);
	memcpy(p->todo->generation, p->record, 16);
	int ret = resync_bitmap_save(p->todo, path);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "checkpoint %s: saving: %s", path,
			       strerror(-ret));
	r->st.checkpoints++;
	return 0;
}

int rs_checkpoint_remove(struct resync *r, const char *path)
{
	int ret = rc_remove_durable(AT_FDCWD, path);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "checkpoint %s: removing: %s", path,
			       strerror(-ret));
	return 0;
}

const char *resync_resume_refused(const resync *r)
{
	return r ? r->resume_refused : "";
}
