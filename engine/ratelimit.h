/* SPDX-License-Identifier: MIT */
/* A token bucket for the submit path: bytes per second, bursts up to the
 * bucket's size.  A bucket joined to a rate-limit group (the handle's
 * resync_set_rate_group()) takes from the group's shared bucket instead. */
#ifndef RESYNC_RATELIMIT_H
#define RESYNC_RATELIMIT_H

#include <stdint.h>

struct resync;
struct resync_rate_group;

/* A handle's place in its rate-limit group (all under the group's lock). */
struct rs_rate_member {
	struct resync_rate_group *g; /* NULL: none */
	struct rs_rate_member *next;
	uint64_t taken;      /* bytes taken from the group */
	uint64_t want;       /* the refused request, while waiting */
	uint64_t waiting_ns; /* until when it counts as waiting (0: not) */
};

struct rs_rate {
	uint64_t bps; /* 0: unlimited */
	uint64_t burst;
	double tokens;
	uint64_t last_ns;
	uint64_t want;            /* the refused request, for rs_rate_wait_ns */
	struct rs_rate_member *m; /* joined to a group: the handle's place */
	uint64_t retry_ns;        /* a group member: when to try again */
};

void rs_rate_init(struct rs_rate *rt, uint64_t bps, uint64_t burst, uint64_t now_ns);
/* Takes from r's rate-limit group, when it has one, instead of rt's own
 * limit (which the group replaces). */
void rs_rate_join(struct rs_rate *rt, struct resync *r);
/* 0 and the bytes taken, or -EAGAIN: wait rs_rate_wait_ns() and try again. */
int rs_rate_take(struct rs_rate *rt, uint64_t bytes, uint64_t now_ns);
uint64_t rs_rate_wait_ns(const struct rs_rate *rt, uint64_t now_ns);
/* resync_free(): r leaves its group. */
void rs_rate_group_leave(struct resync *r);

#endif
