/* SPDX-License-Identifier: MIT */
/* Per-run request size and queue depth from the endpoints' reports (tune.c). */
#ifndef RESYNC_TUNE_H
#define RESYNC_TUNE_H

struct resync;
struct rs_endpoint;

/* Sets r->request_size and r->queue_depth (the caller's where set) and
 * writes why into r->io_choice. */
void rs_tune(struct resync *r, const struct rs_endpoint *src, const struct rs_endpoint *tgt);

#endif
