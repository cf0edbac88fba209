/* SPDX-License-Identifier: MIT */
/*
 * The worker's main loop, in the detached process: reads the job's plan,
 * starts the engine thread (which copies the disks at once), turns SIGUSR1/SIGUSR2/SIGTERM into suspend,
 * resume and terminate, records progress every RECORD_MS, and writes the
 * outcome to the VM and then the job record.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>
#include "resync/resync.h"
#include "resync/return_codes.h"
#include "resync/states.h"
#include "job.h"
#include "settings.h"
#include "vm.h"
#include "worker_internal.h"

void worker_log(struct worker *w, int prio, const char *fmt, ...)
{
	char msg[1024], ts[32], line[1100];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(prio, "job %s: %s", w->id, msg);
	ctl_format_time(ctl_now(), ts);
	n = snprintf(line, sizeof(line), "%s %s\n", ts, msg);
	if (w->logfd >= 0 && write(w->logfd, line, (size_t)n) < 0)
		syslog(LOG_WARNING, "job %s: log write failed", w->id);
}

void worker_set_job_state(struct worker *w, uint32_t state)
{
	ctl_job_set_state(w->job, state);
	ctl_job_save(&w->st, w->job, NULL);
}

static void handle_signal(struct worker *w, int sig)
{
	uint32_t state = ctl_json_u32(w->job, "JobState");

	pthread_mutex_lock(&w->mu);
	if (sig == SIGUSR1 && !w->cancelled)
		w->paused = true;
	else if (sig == SIGUSR2 && !w->cancelled)
		w->paused = false;
	else if (sig == SIGTERM)
		w->cancelled = true;
	/* Every disk's run in progress; one not started yet sees the flags. */
	for (size_t i = 0; w->disks && i < w->n; i++) {
		resync *r = w->disks[i].r;
		if (!r)
			continue;
		if (sig == SIGTERM)
			resync_cancel(r);
		else if (!w->cancelled && (sig == SIGUSR1 || sig == SIGUSR2))
			resync_pause(r, sig == SIGUSR1);
	}
	if (sig == SIGUSR2 || sig == SIGTERM)
		pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (sig == SIGUSR1 && state != RESYNC_JOB_SHUTTING_DOWN) {
		worker_log(w, LOG_INFO, "suspended by request");
		worker_set_job_state(w, RESYNC_JOB_SUSPENDED);
	} else if (sig == SIGUSR2 && state == RESYNC_JOB_SUSPENDED) {
		worker_log(w, LOG_INFO, "resumed by request");
		worker_set_job_state(w, RESYNC_JOB_RUNNING);
	} else if (sig == SIGTERM && state != RESYNC_JOB_SHUTTING_DOWN) {
		worker_log(w, LOG_INFO, "terminating by request");
		worker_set_job_state(w, RESYNC_JOB_SHUTTING_DOWN);
	}
}

static int load_plan(struct worker *w)
{
	json_object *arr = json_object_object_get(w->job, "Disks");
	json_object *settings = json_object_object_get(w->job, "Settings");

	if (ctl_settings_parse(json_object_to_json_string(settings), &w->set, NULL))
		return -EINVAL;
	w->n = json_object_array_length(arr);
	w->disks = calloc(w->n, sizeof(*w->disks));
	if (!w->disks)
		return -ENOMEM;
	for (size_t i = 0; i < w->n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct wdisk *d = &w->disks[i];
		d->w = w;
		d->name = ctl_json_str(o, "Name");
		d->source = ctl_json_str(o, "Source");
		d->target = ctl_json_str(o, "Target");
		d->cs_arg = ctl_json_str(o, "ChangeSourceArg");
		if (d->cs_arg && !*d->cs_arg)
			d->cs_arg = NULL;
		d->size = (uint64_t)json_object_get_int64(json_object_object_get(o, "Size"));
		if (!d->name || !d->source || !d->target ||
		    ctl_change_source_parse(ctl_json_str(o, "ChangeSource") ?: "", &d->cs) < 0)
			return -EINVAL;
		snprintf(d->ckpt, sizeof(d->ckpt), "%s/jobs/%s/%s.ckpt", w->st.path, w->id,
			 d->name);
	}
	return 0;
}

static uint32_t outcome_of(struct worker *w, uint32_t *code)
{
	*code = 0;
	if (w->result == 0)
		return RESYNC_JOB_COMPLETED;
	if (w->result == -ECANCELED && w->cancelled)
		return RESYNC_JOB_TERMINATED;
	*code = w->code ?: ctl_rv_from_errno(w->result);
	return RESYNC_JOB_EXCEPTION;
}

int worker_run_job(struct worker *w, int sfd, int ready_fd)
{
	pthread_t th;
	char ts[32];
	uint32_t outcome, code;
	long long start;
	pid_t pid = getpid();
	int err;

	err = load_plan(w);
	if (err < 0) {
		snprintf(w->error, sizeof(w->error), "job record has no valid plan");
		w->result = err;
		goto finish;
	}
	ctl_format_time(ctl_now(), ts);
	worker_set_int(w->job, "WorkerPid", pid);
	if (ctl_proc_start_time(pid, &start) == 0)
		worker_set_int(w->job, "WorkerStartTime", start);
	json_object_object_add(w->job, "StartTime", json_object_new_string(ts));
	ctl_job_save(&w->st, w->job, NULL);
	if (write(ready_fd, &pid, sizeof(pid)) != sizeof(pid))
		worker_log(w, LOG_WARNING, "the CLI did not wait for the worker");
	close(ready_fd);
	ready_fd = -1;
	worker_log(w, LOG_INFO, "failback of VM %s to recovery point %s started, %zu disk(s)",
		   ctl_json_str(w->job, "VirtualSystem"), ctl_json_str(w->job, "RecoveryPoint"),
		   w->n);

	w->code = worker_update_vm(w, worker_vm_start_copy, NULL, w->error, sizeof(w->error));
	if (w->code) {
		w->result = -EIO;
		goto finish;
	}
	if (pipe2(w->wake, O_CLOEXEC) < 0 || pthread_create(&th, NULL, worker_engine_thread, w)) {
		snprintf(w->error, sizeof(w->error), "starting the engine thread failed");
		w->result = -EAGAIN;
		goto finish;
	}
	/* After the start: the disks connect and plan while this durable save
	 * waits on the store's disk (tens of ms on a busy one, before every
	 * disk's first write otherwise). */
	worker_set_job_state(w, RESYNC_JOB_RUNNING);
	for (;;) {
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { w->wake[0], POLLIN, 0 } };
		int n = poll(p, 2, RECORD_MS);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				handle_signal(w, (int)si.ssi_signo);
		}
		if (n > 0 && (p[1].revents & POLLIN))
			break;
		worker_record_progress(w, false);
	}
	pthread_join(th, NULL);
finish:
	if (ready_fd >= 0)
		close(ready_fd);
	outcome = outcome_of(w, &code);
	/* The VM first, so a reader seeing the final job state sees the VM's.
	 * A job whose end the VM record does not hold has not completed: the
	 * record still says its targets are inconsistent. */
	if (w->disks) {
		char why[sizeof(w->error)];
		uint32_t rv = worker_update_vm(w, worker_vm_finish, &outcome, why, sizeof(why));
		if (rv && outcome != RESYNC_JOB_EXCEPTION) {
			outcome = RESYNC_JOB_EXCEPTION;
			code = rv;
			memcpy(w->error, why, sizeof(w->error));
		}
	}
	if (outcome == RESYNC_JOB_EXCEPTION) {
		ctl_job_set_error(w->job, code, ctl_rv_text(code), w->error);
		worker_log(w, LOG_ERR, "failed (%u %s): %s", code, ctl_rv_text(code), w->error);
	} else if (outcome == RESYNC_JOB_TERMINATED) {
		worker_log(w, LOG_INFO, "terminated; a new failback resumes from the checkpoint");
	} else {
		worker_log(w, LOG_INFO, "completed");
	}
	ctl_job_set_state(w->job, outcome);
	worker_record_progress(w, outcome == RESYNC_JOB_COMPLETED);
	return outcome == RESYNC_JOB_COMPLETED ? 0 : 1;
}
