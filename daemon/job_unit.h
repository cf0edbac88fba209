/* SPDX-License-Identifier: MIT */
/*
 * --job-units: each failback's worker moved into a transient systemd scope
 * of its own, resync-job-ID.scope, as soon as the job is started.  The
 * worker is double-forked and setsid'd by ctl/, which takes it out of the
 * HTTP client's processes but not out of resyncd.service's control group;
 * in its own scope a stop of the service or the teardown of its cgroup
 * cannot take it along, and `systemctl status resync-job-ID.scope` shows
 * it.  This needs a running systemd on the system bus: without one the
 * worker stays where it is and the daemon logs why.  Off by default; only
 * the fallback is tested here (no systemd as PID 1).
 */
#ifndef RESYNCD_JOB_UNIT_H
#define RESYNCD_JOB_UNIT_H

#include "daemon.h"

/* Moves job_id's worker into its scope, or logs why it could not. */
void rd_job_unit_adopt(struct rd_daemon *d, const char *job_id);

#endif
