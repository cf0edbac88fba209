/* SPDX-License-Identifier: MIT */
/* The NBD side of resync-bitmap: a qemu dirty bitmap read through the
 * library's public resync_nbd_dirty_extents(), printed or captured. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* Runs the walk on a fresh handle; prints the library's message on failure
 * unless a callback failed and said so already (*reported). */
static int walk(const char *uri, const char *name, const struct resync_extent_cb *cb,
		const int *reported)
{
	resync *r = resync_new();
	if (!r)
		return fail("%s", strerror(ENOMEM));
	int err = resync_nbd_dirty_extents(r, uri, name, cb);
	int ret = EXIT_OK;
	if (err && !*reported)
		ret = *resync_error(r) ? fail("%s", resync_error(r)) :
					 fail("%s: %s", uri, strerror(-err));
	else if (err)
		ret = EXIT_RUNTIME;
	resync_free(r);
	return ret;
}

struct print {
	int reported;
};

static int print_extent(void *arg, uint64_t off, uint64_t len)
{
	struct print *p = arg;
	if (printf("%" PRIu64 " %" PRIu64 "\n", off, len) >= 0)
		return 0;
	p->reported = fail("stdout: %s", strerror(errno));
	return -EIO;
}

int nbd_print_extents(const char *uri, const char *name)
{
	struct print p = { 0 };
	struct resync_extent_cb cb = {
		.struct_size = sizeof cb,
		.extent = print_extent,
		.arg = &p,
	};
	int ret = walk(uri, name, &cb, &p.reported);
	if (!ret && fflush(stdout))
		ret = fail("stdout: %s", strerror(errno));
	return ret;
}

struct capture {
	const char *uri;
	uint32_t granularity;
	resync_bitmap *b;
	int reported;
};

static int capture_size(void *arg, uint64_t size)
{
	struct capture *c = arg;
	int err = resync_bitmap_new(&c->b, size, c->granularity);
	if (err == -EOVERFLOW)
		c->reported = fail("%s: %" PRIu64 " bytes at granularity %u is more than a bitmap "
				   "holds (2^35 blocks): use a coarser --granularity",
				   c->uri, size, c->granularity);
	else if (err)
		c->reported = fail("resync_bitmap_new: %s", strerror(-err));
	return err;
}

static int capture_extent(void *arg, uint64_t off, uint64_t len)
{
	struct capture *c = arg;
	int err = resync_bitmap_mark(c->b, off, len);
	if (err)
		c->reported = fail("%s: extent %" PRIu64 "+%" PRIu64 ": %s", c->uri, off, len,
				   strerror(-err));
	return err;
}

int nbd_capture(const char *uri, const char *name, uint32_t granularity, resync_bitmap **out)
{
	struct capture c = { .uri = uri, .granularity = granularity };
	struct resync_extent_cb cb = {
		.struct_size = sizeof cb,
		.size = capture_size,
		.extent = capture_extent,
		.arg = &c,
	};
	int ret = walk(uri, name, &cb, &c.reported);
	if (ret)
		resync_bitmap_free(c.b);
	else
		*out = c.b;
	return ret;
}
