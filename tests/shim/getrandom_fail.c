/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: getrandom(2) as on a kernel without it.  Blocking calls
 * (flags 0: the ones resyncctl makes for ids and generations) fail with
 * $GETRANDOM_ERRNO (a number, default ENOSYS) once $GETRANDOM_SKIP of them
 * (default 0) have succeeded; the count is per process and carries across
 * fork(), so a skip of 1 lets the CLI draw its job id and fails its worker.
 * Non-blocking calls (json-c's hash seed) pass.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>

static long calls;

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
	ssize_t (*real)(void *, size_t, unsigned) =
		(ssize_t(*)(void *, size_t, unsigned))dlsym(RTLD_NEXT, "getrandom");
	const char *skip = getenv("GETRANDOM_SKIP"), *err = getenv("GETRANDOM_ERRNO");

	if (flags == 0 && calls++ >= (skip ? atol(skip) : 0)) {
		errno = err ? atoi(err) : ENOSYS;
		return -1;
	}
	return real(buf, n, flags);
}
