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

int rs_extent_list_read(struct resync *r, const char *path, uint64_t size,
			rs_extent_fn fn, void *arg)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return rs_fail(r, -errno, UINT64_MAX, "extent list %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = 0;
	ssize_t n;
	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		uint64_t off, len;
		const char *why;
		int got = rc_parse_extent_line(line, (size_t)n, &off, &len, &why);
		if (got < 0) {
			ret = rs_fail(r, got, UINT64_MAX, "extent list %s line %u: %s", path, lineno,
				      why);
			break;
		}
		if (!got)
			continue;
		if (off > size || len > size - off) {
			ret = rs_fail(r, -ERANGE, off,
				      "extent list %s line %u: extent %" PRIu64 "+%" PRIu64
				      " passes the source size %" PRIu64,
				      path, lineno, off, len, size);
			break;
		}
		if (len)
			ret = fn(arg, off, len);
	}
	if (!ret && ferror(f))
		ret = rs_fail(r, -EIO, UINT64_MAX, "extent list %s: read error", path);
	free(line);
	fclose(f);
	return ret;
}
