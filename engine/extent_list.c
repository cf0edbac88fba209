/* SPDX-License-Identifier: MIT */
/* The extent list source: "offset length" per line, in the grammar of
 * common/parse_size.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "parse_size.h"
#include "plan.h"

struct relay {
	struct resync *r;
	const char *path;
	uint64_t size;
	const unsigned *lineno;
	rs_extent_fn fn;
	void *arg;
	int err; /* a range or fn failure: its message is set */
};

static int relay(void *arg, uint64_t off, uint64_t len)
{
	struct relay *rl = arg;
	if (off > rl->size || len > rl->size - off)
		return rl->err = rs_fail(rl->r, -ERANGE, off,
					 "extent list %s line %u: extent %" PRIu64 "+%" PRIu64
					 " passes the source size %" PRIu64,
					 rl->path, *rl->lineno, off, len, rl->size);
	return rl->err = len ? rl->fn(rl->arg, off, len) : 0;
}

int rs_extent_list_read(struct resync *r, const char *path, uint64_t size, rs_extent_fn fn,
			void *arg)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return rs_fail(r, -errno, UINT64_MAX, "extent list %s: %s", path, strerror(errno));
	unsigned lineno;
	const char *why = "";
	struct relay rl = { r, path, size, &lineno, fn, arg, 0 };
	int ret = rc_read_extent_list(f, relay, &rl, &lineno, &why);
	fclose(f);
	if (ret && !rl.err)
		ret = ret == -EIO || ret == -ENOMEM ?
			      rs_fail(r, ret, UINT64_MAX, "extent list %s: %s", path, why) :
			      rs_fail(r, ret, UINT64_MAX, "extent list %s line %u: %s", path,
				      lineno, why);
	return ret;
}
