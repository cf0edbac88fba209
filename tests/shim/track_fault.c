/* SPDX-License-Identifier: MIT */
/*
 * A fault shim for the tracking filter's tests, preloaded into nbdkit:
 * writes to one file (TRACK_FAULT_FILE, matched by the path of the fd) are
 * counted, and from the TRACK_FAULT_AT-th on (1-based) they fail as
 * TRACK_FAULT_MODE says:
 *   tear  that write puts only its first TRACK_FAULT_KEEP bytes (default:
 *         half) on the file, then the process dies by SIGKILL: a crash in
 *         the middle of a write, as a power cut leaves it;
 *   eio   that write and every later one fails with EIO.
 * Every other write passes through untouched.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static atomic_long count;

static int is_target(int fd)
{
	const char *want = getenv("TRACK_FAULT_FILE");
	if (!want)
		return 0;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		return 0;
	path[n] = 0;
	return !strcmp(path, want);
}

static ssize_t faulty(pwrite_fn real, int fd, const void *buf, size_t len, off_t off)
{
	if (!is_target(fd))
		return real(fd, buf, len, off);
	const char *at = getenv("TRACK_FAULT_AT"), *mode = getenv("TRACK_FAULT_MODE");
	long n = atomic_fetch_add(&count, 1) + 1;
	if (!at || n < atol(at))
		return real(fd, buf, len, off);
	if (mode && !strcmp(mode, "eio")) {
		errno = EIO;
		return -1;
	}
	const char *keep = getenv("TRACK_FAULT_KEEP");
	size_t k = keep ? (size_t)atol(keep) : len / 2;
	if (k > len)
		k = len;
	if (k)
		real(fd, buf, k, off);
	raise(SIGKILL);
	return -1;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static pwrite_fn real;
	if (!real)
		real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
	return faulty(real, fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	static pwrite_fn real;
	if (!real)
		real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
	return faulty(real, fd, buf, len, off);
}
