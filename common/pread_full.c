/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>
#include "pread_full.h"

int rc_pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		/* One call moves at most about 2 GiB (Linux's limit); 1 GiB keeps
		 * each request well inside it. */
		ssize_t n = pread(fd, p, len > (1u << 30) ? (1u << 30) : (size_t)len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}
