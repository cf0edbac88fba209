/* SPDX-License-Identifier: MIT */
/* Sizes on the command line: "4096", "64K", "1M", "2GiB", "1T" (powers of 1024). */
#ifndef RESYNC_TOOLS_SIZE_H
#define RESYNC_TOOLS_SIZE_H

#include <stdint.h>

/* 0 and *out set, or -EINVAL for anything that is not such a size. */
int rs_parse_size(const char *s, uint64_t *out);

#endif
