/* SPDX-License-Identifier: MIT */
/*
 * The job's worker: a detached process (double fork, setsid) that outlives
 * the CLI, holds the job's lock for its whole life, runs the engine for every
 * disk at once (a thread each) and keeps the job and VM records current.  SIGUSR1 suspends,
 * SIGUSR2 resumes, SIGTERM terminates (RequestStateChange 3, 2, 4).
 */
#ifndef CTL_WORKER_H
#define CTL_WORKER_H

#include "resync/resync.h"
#include "settings.h"
#include "store.h"

/* Starts the worker for job id, handing it lockfd (the job's lock, already
 * held): the caller's program exec'd as `PROGRAM --worker STORE ID`.
 * Returns once the worker has recorded its pid: 0, the exec's negative errno,
 * or -ECHILD when the worker ended before that. */
int ctl_worker_spawn(struct ctl_store *s, const char *id, int lockfd);

/* The worker's argv[1]: internal, not an option for users. */
#define CTL_WORKER_ARG "--worker"
/* First thing in main() of every program that links ctl/ (resyncctl,
 * resyncd): -1 when argv is not a worker's, else the worker process's exit
 * status once its job has ended. */
int ctl_worker_entry(int argc, char **argv);

/* Sets up r for one disk as the settings ask: endpoints, mode, flags, depth,
 * request size, rate and TLS (no checkpoint, no progress).  InitiateFailback's
 * check and the worker's run share it, so the check sees what the run will. */
int ctl_engine_configure(resync *r, const struct ctl_settings *s, const char *source,
			 const char *target, enum ctl_change_source cs, const char *cs_arg);

#endif
