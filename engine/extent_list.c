/* SPDX-License-Identifier: MIT */
/* The extent list source: "offset length" per line. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "plan.h"

static int parse_u64(const char **p, uint64_t *out)
{
	char *end;
	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(*p, &end, 0);
	if (errno || end == *p)
		return -EINVAL;
	*out = v;
	*p = end;
	return 0;
}

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
	while (!ret && getline(&line, &cap, f) >= 0) {
		lineno++;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
			continue;
		uint64_t off, len;
		if (parse_u64(&p, &off) || parse_u64(&p, &len)) {
			ret = rs_fail(r, -EINVAL, UINT64_MAX,
				      "extent list %s line %u: expected \"offset length\"", path, lineno);
			break;
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p && *p != '#') {
			ret = rs_fail(r, -EINVAL, UINT64_MAX,
				      "extent list %s line %u: unexpected text after the length", path,
				      lineno);
			break;
		}
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
