/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for the submit path.  A handle's own bucket limits its run;
 * a rate-limit group (resync_rate_group_*) is one bucket shared by several
 * handles running at once in threads of one process.  The group is fair
 * between members that want more than it gives: while other members wait,
 * a member that has taken more bytes than one of them waits too, so members
 * with work share the rate evenly; a member that needs less than its share
 * leaves the rest to the others (nobody waits for a token nobody wants).
 * A member counts as waiting only for a while after it was refused, so one
 * that paused, was cancelled or finished never holds the others back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include "clock.h"
#include "internal.h"
#include "ratelimit.h"

struct resync_rate_group {
	pthread_mutex_t mu;
	uint64_t bps;
	uint64_t burst; /* the largest burst a member asked for */
	double tokens;
	uint64_t last_ns;
	struct rs_rate_member *members;
};

void rs_rate_init(struct rs_rate *rt, uint64_t bps, uint64_t burst, uint64_t now_ns)
{
	rt->bps = bps;
	rt->burst = burst;
	rt->tokens = (double)burst;
	rt->last_ns = now_ns;
	rt->want = 0;
	rt->m = NULL;
	rt->retry_ns = 0;
}

static void refill(double *tokens, uint64_t *last_ns, uint64_t bps, uint64_t burst, uint64_t now_ns)
{
	if (now_ns <= *last_ns)
		return;
	*tokens += (double)(now_ns - *last_ns) * (double)bps / 1e9;
	if (*tokens > (double)burst)
		*tokens = (double)burst;
	*last_ns = now_ns;
}

/* The fewest bytes another member has taken (the group's "virtual time"):
 * a member (re)starting there neither waits for the others to catch up
 * nor overtakes them with credit from before. */
static uint64_t least_taken(const struct resync_rate_group *g, const struct rs_rate_member *self)
{
	uint64_t least = UINT64_MAX;
	for (const struct rs_rate_member *o = g->members; o; o = o->next)
		if (o != self && o->taken < least)
			least = o->taken;
	return least == UINT64_MAX ? 0 : least;
}

void rs_rate_join(struct rs_rate *rt, struct resync *r)
{
	struct rs_rate_member *m = &r->rate_member;
	struct resync_rate_group *g = m->g;

	if (!g || !g->bps)
		return;
	rt->bps = g->bps;
	pthread_mutex_lock(&g->mu);
	refill(&g->tokens, &g->last_ns, g->bps, g->burst, rc_now_ns());
	if (rt->burst > g->burst) {
		g->tokens += (double)(rt->burst - g->burst);
		g->burst = rt->burst;
	}
	uint64_t least = least_taken(g, m);
	if (m->taken < least)
		m->taken = least;
	m->waiting_ns = 0;
	pthread_mutex_unlock(&g->mu);
	rt->m = m;
}

static int group_take(struct rs_rate *rt, uint64_t bytes, uint64_t now_ns)
{
	struct rs_rate_member *m = rt->m;
	struct resync_rate_group *g = m->g;
	uint64_t ahead = 0;

	pthread_mutex_lock(&g->mu);
	refill(&g->tokens, &g->last_ns, g->bps, g->burst, now_ns);
	double need = (double)(bytes < g->burst ? bytes : g->burst);
	for (const struct rs_rate_member *o = g->members; o; o = o->next)
		if (o != m && o->waiting_ns > now_ns && o->taken < m->taken)
			ahead += o->want;
	if (!ahead && g->tokens >= need) {
		g->tokens -= (double)bytes;
		m->taken += bytes;
		m->waiting_ns = 0;
		pthread_mutex_unlock(&g->mu);
		return 0;
	}
	/* Wait until the bucket holds this request and those ahead of it; at
	 * least 0.5 ms, so a member ahead that is slow to wake is not polled
	 * in a spin. */
	double missing = need + (double)ahead - g->tokens;
	uint64_t wait = missing > 0 ? (uint64_t)(missing * 1e9 / (double)g->bps) : 0;
	if (wait < 500000)
		wait = 500000;
	m->want = (uint64_t)need;
	m->waiting_ns = now_ns + 2 * wait + 100000000;
	rt->retry_ns = now_ns + wait;
	pthread_mutex_unlock(&g->mu);
	return -EAGAIN;
}

int rs_rate_take(struct rs_rate *rt, uint64_t bytes, uint64_t now_ns)
{
	if (!rt->bps)
		return 0;
	if (rt->m)
		return group_take(rt, bytes, now_ns);
	refill(&rt->tokens, &rt->last_ns, rt->bps, rt->burst, now_ns);
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
	if (rt->m)
		return rt->retry_ns > now_ns ? rt->retry_ns - now_ns : 1000;
	double missing = (double)rt->want - rt->tokens -
			 (double)(now_ns - rt->last_ns) * (double)rt->bps / 1e9;
	if (missing <= 0 || !rt->bps)
		return 1000;
	return (uint64_t)(missing * 1e9 / (double)rt->bps) + 1000;
}

int resync_rate_group_new(resync_rate_group **out, uint64_t bytes_per_sec)
{
	if (!out)
		return -EINVAL;
	resync_rate_group *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	int ret = pthread_mutex_init(&g->mu, NULL);
	if (ret) {
		free(g);
		return -ret;
	}
	g->bps = bytes_per_sec;
	g->last_ns = rc_now_ns();
	*out = g;
	return 0;
}

void resync_rate_group_free(resync_rate_group *g)
{
	if (!g)
		return;
	/* Members left behind run on their own limit from now on. */
	for (struct rs_rate_member *m = g->members; m; m = m->next)
		m->g = NULL;
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void rs_rate_group_leave(struct resync *r)
{
	struct rs_rate_member *m = &r->rate_member, **pp;
	struct resync_rate_group *g = m->g;

	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	for (pp = &g->members; *pp && *pp != m; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = m->next;
	pthread_mutex_unlock(&g->mu);
	m->g = NULL;
	m->next = NULL;
}

int resync_set_rate_group(resync *r, resync_rate_group *g)
{
	if (!r)
		return -EINVAL;
	if (r->running)
		return -EBUSY;
	rs_rate_group_leave(r);
	if (!g)
		return 0;
	struct rs_rate_member *m = &r->rate_member;
	pthread_mutex_lock(&g->mu);
	m->g = g;
	m->taken = least_taken(g, m);
	m->waiting_ns = 0;
	m->next = g->members;
	g->members = m;
	pthread_mutex_unlock(&g->mu);
	return 0;
}
