/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the durability tests: a disk whose cache flush fails.
 * fdatasync/fsync on the file named by $RESYNC_SHIM_FLUSH_FAIL (compared by
 * the descriptor's /proc/self/fd path) succeed $RESYNC_SHIM_FLUSH_OK times
 * (default 0), then fail with EIO without flushing: $RESYNC_SHIM_FLUSH_FAILS
 * times, then succeed again, as Linux reports a writeback error once and
 * marks the pages clean (unset: every later one fails).  Other files are
 * flushed normally, so the checkpoint itself can still be saved.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static atomic_long calls;

/* Whether this flush of fd is to fail. */
static int fails(int fd)
{
	const char *want = getenv("RESYNC_SHIM_FLUSH_FAIL");
	if (!want)
		return 0;
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		return 0;
	path[n] = 0;
	if (strcmp(path, want))
		return 0;
	const char *ok = getenv("RESYNC_SHIM_FLUSH_OK"), *nfail = getenv("RESYNC_SHIM_FLUSH_FAILS");
	long call = atomic_fetch_add(&calls, 1), first = ok ? atol(ok) : 0;
	return call >= first && (!nfail || call < first + atol(nfail));
}

int fdatasync(int fd)
{
	if (fails(fd)) {
		errno = EIO;
		return -1;
	}
	return REAL(fdatasync)(fd);
}

int fsync(int fd)
{
	if (fails(fd)) {
		errno = EIO;
		return -1;
	}
	return REAL(fsync)(fd);
}
