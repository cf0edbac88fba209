/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: getrandom(2) as on a kernel without it.  Blocking calls
 * (flags 0: the ones resyncctl makes for ids and generations) fail with
 * $GETRANDOM_ERRNO (a number, default ENOSYS); with $GETRANDOM_WORKER_ONLY=1
 * only in a job's worker, so the CLI draws its job id and its worker fails.
 * Non-blocking calls (json-c's hash seed) pass.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>
#include "worker_process.h"

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
	ssize_t (*real)(void *, size_t, unsigned) =
		(ssize_t(*)(void *, size_t, unsigned))dlsym(RTLD_NEXT, "getrandom");
	const char *only = getenv("GETRANDOM_WORKER_ONLY"), *err = getenv("GETRANDOM_ERRNO");

	if (flags == 0 && !(only && *only == '1' && !shim_is_worker())) {
		errno = err ? atoi(err) : ENOSYS;
		return -1;
	}
	return real(buf, n, flags);
}
