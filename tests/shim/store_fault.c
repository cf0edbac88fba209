/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the ctl tests: a state store whose file system fails
 * the way a full one does, at the one step a test chooses.  rename(),
 * renameat() and renameat2() onto a file whose name is $RESYNC_FAULT_RENAME
 * fail with $RESYNC_FAULT_ERRNO (default ENOSPC) -- the step that makes a
 * store record durable.
 * write() and pwrite() to a file whose name ends in $RESYNC_FAULT_WRITE fail
 * the same way -- the event journal's appends (events/N.jsonl).
 *   RESYNC_FAULT_WORKER_ONLY=1    only in a job's worker (worker_process.h),
 *                                 not in the CLI that starts it
 *   RESYNC_FAULT_SKIP=N           the first N matching renames of a process
 *                                 succeed
 * Nothing else changes, so everything else the process does is real.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "worker_process.h"

static bool is_worker;
static unsigned matched;

__attribute__((constructor)) static void init(void)
{
	is_worker = shim_is_worker();
}

/* Whether this matching call fails, setting errno when it does. */
static int fail_now(void)
{
	const char *skip = getenv("RESYNC_FAULT_SKIP");
	const char *only = getenv("RESYNC_FAULT_WORKER_ONLY");

	if (only && *only == '1' && !is_worker)
		return 0;
	if (skip && matched++ < strtoul(skip, NULL, 10))
		return 0;
	const char *e = getenv("RESYNC_FAULT_ERRNO");
	errno = e ? atoi(e) : ENOSPC;
	return 1;
}

static int should_fail(const char *newpath)
{
	const char *want = getenv("RESYNC_FAULT_RENAME");
	const char *base = strrchr(newpath, '/');

	base = base ? base + 1 : newpath;
	if (!want || strcmp(base, want))
		return 0;
	return fail_now();
}

/* The file behind fd named by /proc/self/fd, matched on its name's end. */
static int write_should_fail(int fd)
{
	const char *want = getenv("RESYNC_FAULT_WRITE");
	char link[64], target[4096];
	size_t wl;
	ssize_t n;

	if (!want || !*want)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	wl = strlen(want);
	if ((size_t)n < wl || strcmp(target + n - wl, want))
		return 0;
	return fail_now();
}

ssize_t write(int fd, const void *buf, size_t count)
{
	ssize_t (*real)(int, const void *, size_t) =
		(ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");

	return write_should_fail(fd) ? -1 : real(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	ssize_t (*real)(int, const void *, size_t, off_t) =
		(ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");

	return write_should_fail(fd) ? -1 : real(fd, buf, count, offset);
}

int rename(const char *oldpath, const char *newpath)
{
	int (*real)(const char *, const char *) =
		(int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");

	return should_fail(newpath) ? -1 : real(oldpath, newpath);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	int (*real)(int, const char *, int, const char *) =
		(int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");

	return should_fail(newpath) ? -1 : real(olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	      unsigned int flags)
{
	int (*real)(int, const char *, int, const char *, unsigned int) =
		(int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT,
										   "renameat2");

	return should_fail(newpath) ? -1 : real(olddirfd, oldpath, newdirfd, newpath, flags);
}
