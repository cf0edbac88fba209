/* SPDX-License-Identifier: MIT */
/* A token bucket for the submit path: bytes per second, bursts up to the
 * bucket's size. */
#ifndef RESYNC_RATELIMIT_H
#define RESYNC_RATELIMIT_H

#include <stdint.h>

struct rs_rate {
	uint64_t bps; /* 0: unlimited */
	uint64_t burst;
	double tokens;
	uint64_t last_ns;
	uint64_t want; /* the refused request, for rs_rate_wait_ns */
};

void rs_rate_init(struct rs_rate *rt, uint64_t bps, uint64_t burst, uint64_t now_ns);
/* 0 and the bytes taken, or -EAGAIN: wait rs_rate_wait_ns() and try again. */
int rs_rate_take(struct rs_rate *rt, uint64_t bytes, uint64_t now_ns);
uint64_t rs_rate_wait_ns(const struct rs_rate *rt, uint64_t now_ns);

#endif
