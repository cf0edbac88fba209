/* SPDX-License-Identifier: MIT */
/*
 * CIM datetime intervals ("ddddddddhhmmss.mmmmmm:000"), the format of
 * CIM_ConcreteJob's ElapsedTime.
 */
#ifndef CTL_CIM_TIME_H
#define CTL_CIM_TIME_H

#include <stdint.h>

#define CTL_CIM_INTERVAL_LEN 26 /* 25 characters and the NUL */

/* ns as an interval: days (8 digits), hours, minutes, seconds,
 * microseconds, then ":000" (intervals carry no UTC offset). */
void ctl_cim_interval(uint64_t ns, char buf[CTL_CIM_INTERVAL_LEN]);

#endif
