/* SPDX-License-Identifier: MIT */
/*
 * For the shims that fault only a job's worker: whether this process is
 * one, i.e. resyncctl or resyncd exec'd as `PROGRAM --worker STORE JOB`
 * (ctl/worker.h).  Read from /proc/self/cmdline, whose arguments the
 * worker never changes.
 */
#ifndef SHIM_WORKER_PROCESS_H
#define SHIM_WORKER_PROCESS_H

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static inline bool shim_is_worker(void)
{
	static const char want[] = "--worker";
	char buf[4096];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	size_t first;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	first = strlen(buf) + 1;
	return first + sizeof(want) <= (size_t)n + 1 && !strcmp(buf + first, want);
}

#endif
