/* SPDX-License-Identifier: MIT */
/* From negative errno to InitiateFailback return values, and from return
 * values to the CLI's exit status. */
#ifndef CTL_ERRMAP_H
#define CTL_ERRMAP_H

#include <stdint.h>

/* The return value (32768..32779) an operation failing with -err means. */
uint32_t ctl_rv_from_errno(int err);
/* Exit status for a return value: 0 for 0/4096, N - 32767 for 32768..32779,
 * 13 for RequestStateChange's 4097, 14 for its 5 (invalid parameter). */
int ctl_exit_status(uint32_t rv);
/* "Completed with no error", "Access denied", ... */
const char *ctl_rv_text(uint32_t rv);

/* Why an operation failed, for the CLI to print; library code fills it and
 * never prints. */
struct ctl_err {
	char msg[512];
};

/* Formats the message into e (when not NULL) and returns rv. */
uint32_t ctl_fail(struct ctl_err *e, uint32_t rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
