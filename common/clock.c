/* SPDX-License-Identifier: MIT */
/* The monotonic clock of clock.h. */
#include <time.h>
#include "clock.h"

uint64_t rc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t rc_now_ms(void)
{
	return (int64_t)(rc_now_ns() / 1000000);
}
