/* SPDX-License-Identifier: MIT */
/*
 * Durable replacement of a file, for every file the engine and resyncctl
 * keep (checkpoints, change bitmaps, the state store's records): after a
 * crash the name holds either the old content or the whole new one, never a
 * mix, and once the call returns 0 the new content survives a power loss.
 *
 * The bytes go to a temporary ".BASE.PID.tmp" beside the file (BASE its last
 * name component, PID the writer's), which is written, fsynced, renamed over
 * the file, and then the directory is fsynced.  A writer killed half way
 * leaves only that temporary; its PID tells a sweeper (resyncctl's) whether
 * the writer is gone.  One writer per name at a time in a process: callers
 * serialize (resyncctl with its locks, the engine per handle).
 */
#ifndef RESYNC_COMMON_DURABLE_H
#define RESYNC_COMMON_DURABLE_H

#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Replaces name, relative to the directory dirfd (AT_FDCWD: the current
 * directory; name may hold '/'), by the iovcnt buffers of iov, created with
 * mode less the umask (resyncctl's operator group relies on the umask).  Neither the temporary nor name is followed if it is a symlink
 * (O_NOFOLLOW; rename replaces a symlink itself).  Returns 0 or a negative
 * errno; on failure the temporary is gone and name untouched. */
int rc_write_durable(int dirfd, const char *name, const struct iovec *iov, int iovcnt, mode_t mode);
/* Removes name (relative to dirfd, as above) and fsyncs its directory; a
 * missing name is not an error. */
int rc_remove_durable(int dirfd, const char *name);

#ifdef __cplusplus
}
#endif

#endif
