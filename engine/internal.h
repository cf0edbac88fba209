/* SPDX-License-Identifier: MIT */
/* The handle behind the public API, and helpers shared inside the engine. */
#ifndef RESYNC_INTERNAL_H
#define RESYNC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "resync/resync.h"
#include "ratelimit.h"

#define RS_DEFAULT_QUEUE_DEPTH 32
#define RS_DEFAULT_REQUEST_SIZE (1u << 20)
#define RS_DEFAULT_BLOCK_SIZE (64u << 10)
#define RS_DEFAULT_NBD_CONNS 4
#define RS_DEFAULT_SAMPLE_PER_GIB 16
#define RS_DEFAULT_SAMPLE_MIN 256
#define RS_MAX_QUEUE_DEPTH 1024
#define RS_MIN_REQUEST_SIZE 4096u
#define RS_MAX_REQUEST_SIZE (64u << 20)
/* A zero request needs no buffer, so it may cover many requests' worth. */
#define RS_MAX_ZERO_REQUEST (1ull << 30)

struct resync {
	char *source;
	char *target;
	enum resync_mode mode;
	char *mode_arg;
	uint64_t flags;
	unsigned queue_depth;  /* this run's: the caller's, or tune.c's choice */
	uint32_t request_size; /* the same */
	unsigned user_depth;   /* set by the caller, 0: choose per run */
	uint32_t user_request; /* the same */
	enum resync_write_mode write_mode;
	enum resync_write_mode write_chosen; /* what the run used */
	char io_choice[512];                 /* why (resync_io_choice()) */
	char write_why[160];                 /* how and why the target is written buffered */
	uint64_t memory_limit;               /* resync_set_memory_limit(), 0: none */
	uint64_t memory_used;                /* the last run's buffers and tables */
	uint32_t block_size;
	uint64_t rate;
	struct rs_rate_member rate_member; /* resync_set_rate_group() */
	char *checkpoint;
	uint32_t checkpoint_ms;
	uint64_t checkpoint_bytes;
	resync_progress_fn progress;
	void *progress_arg;
	uint32_t progress_ms;
	unsigned nbd_connections;
	uint32_t nbd_timeout_ms;         /* 0: the default */
	uint32_t nbd_connect_timeout_ms; /* 0: the default */
	char *tls_certs;
	char *tls_psk;
	char *tls_user;
	enum resync_verify verify;
	uint32_t sample_per_gib;
	uint32_t sample_min;
	int digest_fd;        /* -1: no digest compare */
	unsigned digest_hash; /* the hash its stream must use */

	atomic_int cancelled; /* consumed when resync_run() returns */
	atomic_int paused;
	int running;
	uint64_t run_start_ns;

	struct resync_stats st;
	char err[512];
	char resume_refused[512]; /* why a checkpoint was not resumed, "" */
	uint64_t err_off;
	int err_code;
	/* A flush of the target failed in this run.  Linux reports a writeback
	 * error once per file and marks the pages clean, so a later flush
	 * succeeds without the data: from then on no checkpoint may retire a
	 * block (rs_flush_target()).  Cleared when a run opens its endpoints
	 * anew; the checkpoint on disk never covered what was lost. */
	bool tgt_flush_failed;
};

/* Records the first failure (later ones are consequences) and returns err.
 * off: UINT64_MAX when no offset applies. */
int rs_fail(struct resync *r, int err, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Forgets a recorded failure that was handled (a fallback succeeded). */
void rs_clear_error(struct resync *r);

/* -ECANCELED (message set) once resync_cancel() was called, else 0: for the
 * points between blocking steps of open, plan and flush. */
int rs_check_cancel(struct resync *r);

/* What verify re-reads: RESYNC_F_VERIFY means FULL, whatever was set. */
static inline enum resync_verify rs_verify_mode(const struct resync *r)
{
	return (r->flags & RESYNC_F_VERIFY) ? RESYNC_VERIFY_FULL : r->verify;
}

static inline uint64_t rs_align_down(uint64_t v, uint64_t a)
{
	return v - v % a;
}
static inline uint64_t rs_align_up(uint64_t v, uint64_t a)
{
	return rs_align_down(v + a - 1, a);
}
static inline uint64_t rs_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}
static inline uint64_t rs_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}
static inline int rs_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

#endif
