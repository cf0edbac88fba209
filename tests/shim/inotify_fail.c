/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: inotify as when the user's instances are used up
 * (fs.inotify.max_user_instances): inotify_init and inotify_init1 fail
 * with EMFILE, so a waiter must fall back to polling.
 */
#include <errno.h>
#include <sys/inotify.h>

int inotify_init(void)
{
	errno = EMFILE;
	return -1;
}

int inotify_init1(int flags)
{
	(void)flags;
	errno = EMFILE;
	return -1;
}
