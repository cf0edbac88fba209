/* SPDX-License-Identifier: MIT */
/*
 * The one grammar for sizes and extent lists, shared by every reader: the
 * engine's extent lists, resync's and resync-bitmap's options and extent
 * files (names are prefixed rc_, "resync common"; compiled into libresync,
 * not exported from the shared library).
 *
 *   SIZE   := NUMBER [SUFFIX]
 *   NUMBER := decimal digits (leading zeros are still decimal: 010 is ten)
 *           | "0x" or "0X" then hex digits
 *   SUFFIX := K, M, G or T in either case, alone or followed by "B" or "iB":
 *             times 1024, 1024^2, 1024^3, 1024^4
 *
 * Nothing else is a size: no sign, no spaces, no fractions, no other suffix,
 * and no value above UINT64_MAX (-ERANGE, not a wrapped value).
 *
 * An extent list line is "OFFSET LENGTH", both SIZEs, separated by spaces or
 * tabs; a '#' starts a comment; blank and comment-only lines are skipped.
 */
#ifndef RESYNC_COMMON_PARSE_SIZE_H
#define RESYNC_COMMON_PARSE_SIZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The whole string is one SIZE: 0 and *out set, -EINVAL when it is not a
 * SIZE, -ERANGE when it is one above UINT64_MAX. */
int rc_parse_size(const char *s, uint64_t *out);

/* One line of an extent list, len bytes (a NUL inside is an error):
 * 1 with *off and *len set, 0 for a blank or comment line, or -EINVAL /
 * -ERANGE with *why set to a static message naming what is wrong. */
int rc_parse_extent_line(const char *line, size_t n, uint64_t *off, uint64_t *len,
			 const char **why);

/* Reads an extent list from f to its end, calling fn(arg, off, len) for each
 * extent (length 0 included) with *lineno its line number (from 1).  Returns
 * 0, fn's non-zero value, -EINVAL / -ERANGE for a bad line (*why set as by
 * rc_parse_extent_line(), *lineno the line), or -ENOMEM / -EIO (*why "out
 * of memory" / "read error"). */
int rc_read_extent_list(FILE *f, int (*fn)(void *arg, uint64_t off, uint64_t len), void *arg,
			unsigned *lineno, const char **why);

#ifdef __cplusplus
}
#endif

#endif
