/* SPDX-License-Identifier: MIT */
/*
 * Reading a whole range of a file: pread until len bytes arrived, through
 * EINTR and short reads, for the on-disk formats (change bitmaps, tracking
 * logs) that are read at fixed offsets.
 */
#ifndef RESYNC_COMMON_PREAD_FULL_H
#define RESYNC_COMMON_PREAD_FULL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads len bytes at off into buf: 0, -ENODATA when the file ends first, or
 * the negative errno of the failing pread. */
int rc_pread_full(int fd, void *buf, uint64_t len, uint64_t off);

#ifdef __cplusplus
}
#endif

#endif
