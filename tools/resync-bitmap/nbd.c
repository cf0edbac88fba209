/* SPDX-License-Identifier: MIT */
/* The NBD side of resync-bitmap: a synchronous libnbd connection (this is not
 * the copy path) reading a qemu dirty bitmap with the engine's chunked block
 * status. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nbd.h"
#include "cli.h"

/* Connects asking for the dirty bitmap's context; fails when it is absent. */
static int open_export(const char *uri, const char *context, struct nbd_handle **out)
{
	char msg[512];
	struct nbd_handle *h = nbd_create();
	if (!h)
		return fail("nbd_create: %s", nbd_get_error());
	if (nbd_add_meta_context(h, context) == -1) {
		int ret = fail("%s: nbd_add_meta_context: %s", uri, nbd_get_error());
		nbd_close(h);
		return ret;
	}
	if (rs_nbd_connect(h, uri, NULL, NULL, msg, sizeof msg)) {
		nbd_close(h);
		return fail("%s: %s", uri, msg);
	}
	if (nbd_can_meta_context(h, context) != 1) {
		/* Closed first: qemu-nbd serves one client at a time by default. */
		nbd_close(h);
		char *offered = rs_nbd_list_contexts(uri, NULL);
		fail("%s: the server does not offer %s (it offers: %s)", uri, context,
		     offered ? offered : "unknown");
		free(offered);
		return EXIT_RUNTIME;
	}
	*out = h;
	return EXIT_OK;
}

/* Calls fn for each dirty range of the whole export. */
static int walk(struct nbd_handle *h, const char *uri, const char *context,
		rs_extent_fn fn, void *arg)
{
	int64_t size = nbd_get_size(h);
	if (size < 0)
		return fail("%s: nbd_get_size: %s", uri, nbd_get_error());
	char msg[512] = "";
	int err = rs_nbd_extents(h, context, RS_NBD_STATE_DIRTY, 0, (uint64_t)size, fn, arg, NULL,
				 msg, sizeof msg);
	if (err == -EPROTO)
		return fail("%s: block status for %s: the server's reply made no progress",
			    uri, context);
	if (err && *msg)
		return fail("%s: %s", uri, msg);
	if (err)
		return fail("%s: %s", uri, strerror(-err));
	return EXIT_OK;
}

static int print_extent(void *arg, uint64_t off, uint64_t len)
{
	if (printf("%" PRIu64 " %" PRIu64 "\n", off, len) < 0)
		return -EIO;
	return 0;
}

int nbd_print_extents(const char *uri, const char *name)
{
	char *context = rs_nbd_dirty_context(name);
	struct nbd_handle *h = NULL;
	if (!context)
		return fail("%s", strerror(ENOMEM));
	int ret = open_export(uri, context, &h);
	if (!ret)
		ret = walk(h, uri, context, print_extent, NULL);
	if (!ret && fflush(stdout))
		ret = fail("stdout: %s", strerror(errno));
	nbd_close(h);
	free(context);
	return ret;
}

static int mark_extent(void *arg, uint64_t off, uint64_t len)
{
	return resync_bitmap_mark(arg, off, len);
}

int nbd_capture(const char *uri, const char *name, uint32_t granularity, resync_bitmap **out)
{
	char *context = rs_nbd_dirty_context(name);
	struct nbd_handle *h = NULL;
	if (!context)
		return fail("%s", strerror(ENOMEM));
	int ret = open_export(uri, context, &h);
	if (!ret) {
		int64_t size = nbd_get_size(h);
		int err = size < 0 ? -EIO : resync_bitmap_new(out, (uint64_t)size, granularity);
		if (size < 0)
			ret = fail("%s: nbd_get_size: %s", uri, nbd_get_error());
		else if (err == -EOVERFLOW)
			ret = fail("%s: %lld bytes at granularity %u is more than a bitmap holds "
				   "(2^35 blocks): use a coarser --granularity", uri, (long long)size,
				   granularity);
		else if (err)
			ret = fail("resync_bitmap_new: %s", strerror(-err));
		else
			ret = walk(h, uri, context, mark_extent, *out);
	}
	nbd_close(h);
	free(context);
	return ret;
}
