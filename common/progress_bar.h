/* SPDX-License-Identifier: MIT */
/*
 * The progress bar resync and resyncctl draw on a terminal (names prefixed
 * rc_, "resync common"; compiled into libresync, not exported from the
 * shared library).  One line, redrawn in place:
 *
 *   [###########...................]  37.5%    12.0/32.0 MiB    4.0 MiB/s ETA 0:05 copy
 *
 * The bar is 30 cells; the percentage is the caller's fraction (which may
 * weigh several disks), the bytes and the ETA come from done, total and the
 * rate ("--:--" while the rate or the remaining bytes are unknown).
 */
#ifndef RESYNC_COMMON_PROGRESS_BAR_H
#define RESYNC_COMMON_PROGRESS_BAR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RC_PROGRESS_CELLS 30
/* The width a drawn line is padded to, so a shorter line hides a longer one. */
#define RC_PROGRESS_WIDTH 79

struct rc_progress {
	double fraction;      /* 0 .. 1, clamped */
	uint64_t done, total; /* bytes */
	double rate;          /* bytes per second; 0 when not known */
	const char *label;    /* phase or job state; NULL for none */
};

/* The line, without "\r" or padding, in buf (truncated to n - 1 bytes);
 * returns the length it wanted, as snprintf does. */
int rc_progress_line(char *buf, size_t n, const struct rc_progress *p);
/* "\r", the line padded to RC_PROGRESS_WIDTH, and a flush of f. */
void rc_progress_draw(FILE *f, const struct rc_progress *p);

#ifdef __cplusplus
}
#endif

#endif
