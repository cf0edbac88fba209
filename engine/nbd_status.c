/* SPDX-License-Identifier: MIT */
/* Block status in chunks: allocation (base:allocation) and qemu dirty bitmaps,
 * each chunk an asynchronous command waited for with the caller's timeout and
 * cancel flag. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nbd.h"

char *rs_nbd_dirty_context(const char *name)
{
	if (strchr(name, ':'))
		return strdup(name);
	size_t n = strlen(RS_NBD_DIRTY_PREFIX), m = strlen(name);
	char *s = malloc(n + m + 1);
	if (s) {
		memcpy(s, RS_NBD_DIRTY_PREFIX, n);
		memcpy(s + n, name, m + 1);
	}
	return s;
}

struct status {
	const char *context;
	uint32_t mask;
	uint64_t end;              /* of the whole query */
	uint64_t pos;              /* how far the last reply described */
	int seen;                  /* the last reply carried our context */
	uint64_t run_off, run_len; /* matching range not yet reported */
	rs_extent_fn fn;
	void *arg;
	int err;
};

static int flush_run(struct status *s)
{
	int ret = 0;
	if (s->run_len)
		ret = s->fn(s->arg, s->run_off, s->run_len);
	s->run_len = 0;
	return ret;
}

static int extent_cb(void *user_data, const char *metacontext, uint64_t offset, uint32_t *entries,
		     size_t nr_entries, int *error)
{
	struct status *s = user_data;
	if (strcmp(metacontext, s->context))
		return 0;
	s->seen = 1;
	uint64_t o = offset;
	/* Entries are (length, flags) pairs; the last may reach past what we
	 * asked for, and the reply may also stop short of it. */
	for (size_t i = 0; i + 1 < nr_entries && o < s->end; i += 2) {
		uint64_t len = entries[i];
		if (!len)
			break;
		if (len > s->end - o)
			len = s->end - o;
		if (entries[i + 1] & s->mask) {
			if (s->run_len && s->run_off + s->run_len == o) {
				s->run_len += len;
			} else {
				int ret = flush_run(s);
				if (ret) {
					s->err = ret;
					*error = -ret;
					return -1;
				}
				s->run_off = o;
				s->run_len = len;
			}
		}
		o += len;
	}
	s->pos = o;
	return 0;
}

int rs_nbd_extents(struct nbd_handle *h, const char *context, uint32_t mask, uint64_t off,
		   uint64_t len, rs_extent_fn fn, void *arg, const struct rc_nbd_wait *w, char *msg,
		   size_t msglen)
{
	struct status s = {
		.context = context,
		.mask = mask,
		.end = off + len,
		.fn = fn,
		.arg = arg,
	};
	struct rc_nbd_wait io = rs_nbd_io_wait(NULL);
	uint64_t pos = off;
	while (pos < s.end) {
		uint64_t count = s.end - pos;
		if (count > RS_NBD_STATUS_CHUNK)
			count = RS_NBD_STATUS_CHUNK;
		s.pos = pos;
		s.seen = 0;
		int64_t cookie = nbd_aio_block_status(h, count, pos,
						      (nbd_extent_callback){ .callback = extent_cb,
									     .user_data = &s },
						      NBD_NULL_COMPLETION, 0);
		int err = rc_nbd_complete(h, cookie, w ? w : &io, "block status", msg, msglen);
		if (s.err)
			return s.err;
		if (err)
			return err;
		if (!s.seen || s.pos <= pos)
			return -EPROTO;
		pos = s.pos;
	}
	return flush_run(&s);
}
