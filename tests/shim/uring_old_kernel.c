/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: an older kernel's io_uring.  io_uring_queue_init_params()
 * refuses, with -EINVAL as such a kernel does, any IORING_SETUP_ flag outside
 * $RESYNC_SHIM_URING_FLAGS (a number; default 0: none), and logs every set of
 * flags asked for, one "flags=N ret=R" line each, to $RESYNC_SHIM_LOG.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int io_uring_queue_init_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
	const char *allowed = getenv("RESYNC_SHIM_URING_FLAGS");
	unsigned ok = allowed ? (unsigned)strtoul(allowed, NULL, 0) : 0;
	int ret;
	if (p->flags & ~ok)
		ret = -EINVAL;
	else
		ret = ((__typeof__(&io_uring_queue_init_params))
			       dlsym(RTLD_NEXT, "io_uring_queue_init_params"))(entries, ring, p);
	const char *log = getenv("RESYNC_SHIM_LOG");
	int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		char line[64];
		int n = snprintf(line, sizeof line, "flags=%u ret=%d\n", p->flags, ret);
		if (n > 0 && write(fd, line, (size_t)n) < 0)
			n = 0;
		close(fd);
	}
	return ret;
}
