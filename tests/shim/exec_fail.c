/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: a job's worker that cannot be exec'd (no /proc, a
 * program gone unreadable).  execve() of `PROGRAM --worker STORE JOB`
 * (ctl/worker.h) fails with $EXEC_FAIL_ERRNO (a number, default ENOEXEC);
 * every other exec is real.  It runs between fork and exec, so it calls
 * nothing but getenv and the system call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int execve(const char *path, char *const argv[], char *const envp[])
{
	if (argv[0] && argv[1] && !strcmp(argv[1], "--worker")) {
		const char *e = getenv("EXEC_FAIL_ERRNO");
		errno = e ? atoi(e) : ENOEXEC;
		return -1;
	}
	return (int)syscall(SYS_execve, path, argv, envp);
}
