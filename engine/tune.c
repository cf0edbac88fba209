/* SPDX-License-Identifier: MIT */
/*
 * Request size and queue depth per run, from what the opened endpoints
 * report (endpoint.h: pref_request, dev_max_request, dev_queue), when the
 * caller set neither; what the caller set always wins.  The rule:
 *
 * request: 1 MiB (RS_DEFAULT_REQUEST_SIZE), raised to an endpoint's
 *   preferred size (a device's optimal I/O, an NBD server's preferred block
 *   size, rounded up to a power of two); an NBD server's maximum caps it
 *   later (run.c).  Not raised to the largest request a device takes whole
 *   (max_sectors_kb): on this project's virtio disk (4 MiB) 4 MiB x 8
 *   against 1 MiB x 32 measured within the machine's noise (bench/README.md),
 *   and coarser requests coarsen the progress a cancel or crash keeps.
 * depth: enough requests to keep the deepest reported device queue full
 *   (nr_requests x its largest request), at least 2 (a read beside a
 *   write), within RS_AUTO_MEMORY bytes of buffers, the memory the fixed
 *   default (32 x 1 MiB) always used, and RS_MAX_QUEUE_DEPTH; without queue
 *   facts (NBD, tmpfs) the whole bound.
 *
 * The choice and its reasons land in r->io_choice (resync_io_choice()).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "endpoint.h"
#include "internal.h"
#include "tune.h"

#define RS_AUTO_MEMORY ((uint64_t)RS_DEFAULT_QUEUE_DEPTH * RS_DEFAULT_REQUEST_SIZE)

static uint64_t pow2_up(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p *= 2;
	return p;
}

__attribute__((format(printf, 2, 3))) static void say(struct resync *r, const char *fmt, ...)
{
	size_t n = strlen(r->io_choice);
	if (n + 1 >= sizeof r->io_choice)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->io_choice + n, sizeof r->io_choice - n, fmt, ap);
	va_end(ap);
}

static void say_facts(struct resync *r, const struct rs_endpoint *ep)
{
	say(r, "; %s: ", ep->role);
	if (!ep->facts) {
		say(r, "reports nothing");
		return;
	}
	say(r, "%s", ep->facts);
	if (ep->pref_request)
		say(r, " preferred %" PRIu32 " KiB", ep->pref_request >> 10);
	if (ep->dev_max_request)
		say(r, " largest request %" PRIu32 " KiB", ep->dev_max_request >> 10);
	if (ep->dev_queue)
		say(r, " queue %" PRIu32, ep->dev_queue);
}

void rs_tune(struct resync *r, const struct rs_endpoint *src, const struct rs_endpoint *tgt)
{
	const struct rs_endpoint *eps[] = { src, tgt };
	const char *why_req = "the default";
	uint64_t req = r->user_request;
	r->io_choice[0] = 0;
	if (req) {
		why_req = "as set";
	} else {
		req = RS_DEFAULT_REQUEST_SIZE;
		for (int i = 0; i < 2; i++) {
			uint64_t pref = pow2_up(rs_min(eps[i]->pref_request, RS_MAX_REQUEST_SIZE));
			if (eps[i]->pref_request && pref > req) {
				req = pref;
				why_req = "an endpoint's preferred size";
			}
		}
	}
	r->request_size = (uint32_t)req;

	const char *why_depth;
	char why[64];
	if (r->user_depth) {
		r->queue_depth = r->user_depth;
		why_depth = "as set";
	} else {
		/* Small requests the caller set would make the memory bound a
		 * depth past what the engine takes (8192 at 4 KiB). */
		uint64_t cap = rs_min(rs_max(1, RS_AUTO_MEMORY / req), RS_MAX_QUEUE_DEPTH),
			 fill = 0;
		const char *bound = cap == RS_MAX_QUEUE_DEPTH ? "the engine's deepest queue" :
								"the memory bound";
		for (int i = 0; i < 2; i++)
			if (eps[i]->dev_queue && eps[i]->dev_max_request)
				fill = rs_max(fill, ((uint64_t)eps[i]->dev_queue *
							     eps[i]->dev_max_request +
						     req - 1) /
							    req);
		if (!fill) {
			r->queue_depth = (unsigned)cap;
			snprintf(why, sizeof why, "%s, no queue reported", bound);
			why_depth = why;
		} else if (fill > cap) {
			r->queue_depth = (unsigned)cap;
			snprintf(why, sizeof why, "%s, below what fills the device queue", bound);
			why_depth = why;
		} else {
			r->queue_depth = (unsigned)rs_max(fill, 2);
			why_depth = "what fills the deepest device queue";
		}
	}
	say(r, "request %" PRIu64 " KiB (%s), depth %u (%s)", req >> 10, why_req, r->queue_depth,
	    why_depth);
	for (int i = 0; i < 2; i++)
		say_facts(r, eps[i]);
}
