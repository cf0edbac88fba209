/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock, for every timeout, deadline, rate and elapsed time in
 * engine, ctl and tools (CLOCK_MONOTONIC: never steps back when the wall
 * clock is set; it does not count suspend).
 */
#ifndef RESYNC_COMMON_CLOCK_H
#define RESYNC_COMMON_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nanoseconds since an arbitrary fixed point. */
uint64_t rc_now_ns(void);
/* The same clock in milliseconds, signed so that "deadline - now" goes
 * negative once a deadline has passed. */
int64_t rc_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif
