/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include "ratelimit.h"

void rs_rate_init(struct rs_rate *rt, uint64_t bps, uint64_t burst, uint64_t now_ns)
{
	rt->bps = bps;
	rt->burst = burst;
	rt->tokens = (double)burst;
	rt->last_ns = now_ns;
	rt->want = 0;
}

static void refill(struct rs_rate *rt, uint64_t now_ns)
{
	if (now_ns <= rt->last_ns)
		return;
	rt->tokens += (double)(now_ns - rt->last_ns) * (double)rt->bps / 1e9;
	if (rt->tokens > (double)rt->burst)
		rt->tokens = (double)rt->burst;
	rt->last_ns = now_ns;
}

int rs_rate_take(struct rs_rate *rt, uint64_t bytes, uint64_t now_ns)
{
	if (!rt->bps)
		return 0;
	refill(rt, now_ns);
	/* A request larger than the burst goes once the bucket is full. */
	double need = (double)(bytes < rt->burst ? bytes : rt->burst);
	if (rt->tokens < need) {
		rt->want = (uint64_t)need;
		return -EAGAIN;
	}
	rt->tokens -= (double)bytes;
	return 0;
}

uint64_t rs_rate_wait_ns(const struct rs_rate *rt, uint64_t now_ns)
{
	double missing = (double)rt->want - rt->tokens -
			 (double)(now_ns - rt->last_ns) * (double)rt->bps / 1e9;
	if (missing <= 0 || !rt->bps)
		return 1000;
	return (uint64_t)(missing * 1e9 / (double)rt->bps) + 1000;
}
