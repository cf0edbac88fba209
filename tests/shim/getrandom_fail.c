/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: getrandom() fails with ENOSYS, as on a kernel or seccomp
 * profile without it.  What must never follow is a "random" value of all
 * zeroes: the tests check that the caller fails instead.
 */
#include <errno.h>
#include <sys/random.h>

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	(void)buf;
	(void)len;
	(void)flags;
	errno = ENOSYS;
	return -1;
}
