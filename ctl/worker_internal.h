/* SPDX-License-Identifier: MIT */
/*
 * What the worker's files share (worker_spawn.c, worker_run.c,
 * worker_engine.c, worker_vm.c, job_progress.c; not for the rest of ctl,
 * which sees worker.h): the job's state in the worker process, the engine
 * threads' per-disk view, and the calls between the files.  Fields marked
 * "under w->mu" are shared between the main loop and the engine thread.
 */
#ifndef CTL_WORKER_INTERNAL_H
#define CTL_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "resync/resync.h"
#include "settings.h"
#include "store.h"
#include "trust.h"

#define PROGRESS_MS 200
/* Each checkpoint flushes the target: once a second bounds the work a crash
 * repeats without making a fast target wait on flushes. */
#define CHECKPOINT_MS 1000
#define CHECKPOINT_BYTES (1ull << 30)
#define RECORD_MS 250

struct worker;

struct wdisk {
	struct worker *w;
	const char *name;
	const char *source;
	const char *target;
	const char *cs_arg;
	enum ctl_change_source cs;
	uint64_t size;
	char ckpt[4200];
	struct resync_stats st; /* under w->mu */
	bool done;              /* under w->mu */
	bool fell_back;         /* under w->mu: the record lied, compared instead */
	enum ctl_change_source from;
	struct ctl_trust trust;
	resync *r;       /* under w->mu: the disk's run in progress, for signals */
	int err;         /* the disk's outcome: 0 or the engine's negative errno */
	uint32_t code;   /* under w->mu: its ErrorCode when not derived from err */
	char error[600]; /* under w->mu: why it failed */
	/* Under w->mu: the engine's choice for the disk's run, once it copies
	 * (io_request 0 before). */
	uint32_t io_request;
	unsigned io_depth;
	char io_choice[512];
};

struct worker {
	struct ctl_store st;
	const char *id;
	json_object *job;
	struct ctl_settings set;
	struct wdisk *disks;
	size_t n;
	int logfd;
	int wake[2]; /* the engine thread's "finished" for the main loop */
	uint64_t start_ns;

	resync_rate_group *rate; /* the job's rate limit, shared by its disks */

	pthread_mutex_t mu; /* guards the fields below and wdisk.st/done/r/error */
	pthread_cond_t cv;
	bool paused;
	bool cancelled;
	int result;
	uint32_t code; /* the job's ErrorCode when not derived from result */
	char error[600];
};

/* Job log line (jobs/ID/log) and syslog. */
void worker_log(struct worker *w, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The worker's main loop, in the detached process: 0 when the job completed. */
int worker_run_job(struct worker *w, int sfd, int ready_fd);
/* Saves the job record with its new JobState. */
void worker_set_job_state(struct worker *w, uint32_t state);

/* The engine thread: every disk at once (one thread each; in turn when
 * RESYNCCTL_SEQUENTIAL_DISKS=1), then w->result and a wake-up. */
void *worker_engine_thread(void *arg);

/* Applies fn to the VM record under its lock and saves it durably: 0, or
 * the return value of the failure with the reason in why (n bytes). */
uint32_t worker_update_vm(struct worker *w, void (*fn)(struct worker *, json_object *, void *),
			  void *arg, char *why, size_t n);
/* worker_update_vm steps: before the first write, and at the end (arg
 * points to the job's final JobState). */
void worker_vm_start_copy(struct worker *w, json_object *vm, void *arg);
void worker_vm_finish(struct worker *w, json_object *vm, void *arg);

/* CLOCK_MONOTONIC in ns: the job's elapsed time. */
void worker_set_int(json_object *o, const char *key, int64_t v);
/* Copies the engine's figures into the job record and saves it. */
void worker_record_progress(struct worker *w, bool completed);

#endif
