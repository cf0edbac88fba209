/* SPDX-License-Identifier: MIT */
/* Durable replacement of a file: after a crash the path holds either the old
 * content or the whole new one, never a mix. */
#ifndef RESYNC_DURABLE_H
#define RESYNC_DURABLE_H

#include <sys/uio.h>

/* Writes iov to a temporary file beside path, fsyncs it, renames it over
 * path and fsyncs the directory.  Returns 0 or a negative errno. */
int rs_write_durable(const char *path, const struct iovec *iov, int iovcnt, int mode);
/* Removes path and fsyncs its directory; a missing path is not an error. */
int rs_remove_durable(const char *path);

#endif
