/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include "resync/resync.h"
#include "resync/return_codes.h"
#include "resync/states.h"
#include "clock.h"
#include "job.h"
#include "settings.h"
#include "trust.h"
#include "vm.h"
#include "worker.h"

#define PROGRESS_MS      200
/* Each checkpoint flushes the target: once a second bounds the work a crash
 * repeats without making a fast target wait on flushes. */
#define CHECKPOINT_MS    1000
#define CHECKPOINT_BYTES (1ull << 30)
#define RECORD_MS        250

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
	struct resync_stats st;  /* under w->mu */
	bool done;               /* under w->mu */
	bool fell_back;          /* under w->mu: the record lied, compared instead */
	enum ctl_change_source from;
	struct ctl_trust trust;
};

struct worker {
	struct ctl_store st;
	const char *id;
	json_object *job;
	struct ctl_settings set;
	struct wdisk *disks;
	size_t n;
	int logfd;
	int wake[2];             /* the engine thread's "finished" for the main loop */
	uint64_t start_ns;

	pthread_mutex_t mu;      /* guards the fields below and wdisk.st/done */
	pthread_cond_t cv;
	resync *cur;
	bool paused;
	bool cancelled;
	int result;
	uint32_t code;           /* the job's ErrorCode when not derived from result */
	char error[600];
};

static void wlog(struct worker *w, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void wlog(struct worker *w, int prio, const char *fmt, ...)
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

static void on_progress(const struct resync_stats *stats, void *arg)
{
	struct wdisk *d = arg;

	pthread_mutex_lock(&d->w->mu);
	d->st = *stats;
	pthread_mutex_unlock(&d->w->mu);
}

static enum resync_mode engine_mode(enum ctl_change_source cs)
{
	switch (cs) {
	case CTL_CS_BITMAP: return RESYNC_BITMAP;
	case CTL_CS_NBD_DIRTY: return RESYNC_NBD_DIRTY;
	case CTL_CS_EXTENTS: return RESYNC_EXTENTS;
	case CTL_CS_FULL: return RESYNC_FULL;
	default: return RESYNC_COMPARE;
	}
}

int ctl_engine_configure(resync *r, const struct ctl_settings *s, const char *source,
			 const char *target, enum ctl_change_source cs, const char *cs_arg)
{
	int err;

	if ((err = resync_set_source(r, source)) ||
	    (err = resync_set_target(r, target)) ||
	    (err = resync_set_mode(r, engine_mode(cs), cs_arg)) ||
	    (err = resync_set_flags(r, s->verify ? RESYNC_F_VERIFY : 0)) ||
	    (err = resync_set_queue_depth(r, s->queue_depth)) ||
	    (err = resync_set_request_size(r, s->request_size)) ||
	    (err = resync_set_rate_limit(r, s->rate_limit)))
		return err;
	/* A copy by a change record checks the record: what it wrote, and a
	 * sample of what the record says did not change. */
	if (!s->verify && (cs == CTL_CS_BITMAP || cs == CTL_CS_NBD_DIRTY || cs == CTL_CS_EXTENTS) &&
	    (err = resync_set_verify(r, s->verify_sample_per_gib || s->verify_sample_min
				     ? RESYNC_VERIFY_SAMPLE : RESYNC_VERIFY_PLANNED,
				     s->verify_sample_per_gib, s->verify_sample_min)))
		return err;
	if (s->tls_certificates || s->tls_psk_file || s->tls_username)
		err = resync_set_tls(r, s->tls_certificates, s->tls_psk_file, s->tls_username);
	if (!err)
		err = resync_set_nbd_connect_timeout(r, s->nbd_connect_timeout_ms);
	return err;
}

static uint32_t update_vm(struct worker *w, void (*fn)(struct worker *, json_object *, void *),
			  void *arg);

static int configure(struct worker *w, struct wdisk *d, resync *r)
{
	int err = ctl_engine_configure(r, &w->set, d->source, d->target, d->cs, d->cs_arg);

	if (!err)
		err = resync_set_checkpoint(r, d->ckpt, CHECKPOINT_MS, CHECKPOINT_BYTES);
	if (!err)
		err = resync_set_progress(r, on_progress, d, PROGRESS_MS);
	return err;
}

/* Runs one disk to its end: 0 or the engine's negative errno, the reason
 * in w->error. */
static int run_disk(struct worker *w, struct wdisk *d)
{
	resync *r = resync_new();
	int err;

	if (!r) {
		pthread_mutex_lock(&w->mu);
		snprintf(w->error, sizeof(w->error), "disk %s: out of memory", d->name);
		pthread_mutex_unlock(&w->mu);
		return -ENOMEM;
	}
	err = configure(w, d, r);
	pthread_mutex_lock(&w->mu);
	while (!err && w->paused && !w->cancelled)
		pthread_cond_wait(&w->cv, &w->mu);
	if (!err && w->cancelled)
		err = -ECANCELED;
	if (err) {
		snprintf(w->error, sizeof(w->error), "disk %s: %s", d->name,
			 *resync_error(r) ? resync_error(r) : strerror(-err));
		pthread_mutex_unlock(&w->mu);
		resync_free(r);
		return err;
	}
	w->cur = r;
	pthread_mutex_unlock(&w->mu);
	wlog(w, LOG_INFO, "disk %s: %s -> %s, change source %s", d->name, d->source,
	     d->target, ctl_change_source_name(d->cs));

	err = resync_run(r);

	pthread_mutex_lock(&w->mu);
	w->cur = NULL;
	resync_get_stats(r, &d->st);
	d->done = err == 0;
	if (err)
		snprintf(w->error, sizeof(w->error), "disk %s: %s", d->name, resync_error(r));
	pthread_mutex_unlock(&w->mu);
	if (!err)
		wlog(w, LOG_INFO, "disk %s: done, %llu bytes planned, %llu written, %llu zeroed, "
		     "%llu verified%s", d->name, (unsigned long long)d->st.bytes_planned,
		     (unsigned long long)d->st.bytes_written,
		     (unsigned long long)d->st.bytes_zeroed,
		     (unsigned long long)d->st.bytes_verified,
		     d->st.resumed ? " (resumed from checkpoint)" : "");
	resync_free(r);
	return err;
}

/* A resume of this disk must not go back to the record that lied. */
static void vm_resume_compare(struct worker *w, json_object *vm, void *arg)
{
	struct wdisk *d = arg;
	json_object *resume = json_object_object_get(ctl_vm_disk(vm, d->name), "Resume");

	(void)w;
	if (!resume)
		return;
	json_object_object_add(resume, "ChangeSource",
			       json_object_new_string(ctl_change_source_name(d->cs)));
	json_object_object_add(resume, "ChangeSourceArg", json_object_new_string(""));
}

/* Verify found a block outside the plan that differs: the change record
 * left out a change.  The trust rules decide what follows (verify-mismatch:
 * compare the whole disk); that is recorded where a resume reads it before
 * the disk is copied again. */
static int fall_back(struct worker *w, struct wdisk *d)
{
	struct ctl_trust_facts f = { .verify_unplanned_diff = true };
	struct ctl_trust t;
	uint32_t rv;

	ctl_trust_decide(&f, &t);
	wlog(w, LOG_WARNING, "disk %s: %s change record not trusted any more (rule %s): %s; "
	     "copying again by %s", d->name, ctl_change_source_name(d->cs), t.rule, t.reason,
	     ctl_change_source_name(t.cs));
	pthread_mutex_lock(&w->mu);
	d->fell_back = true;
	d->from = d->cs;
	d->trust = t;
	d->cs = t.cs;
	d->cs_arg = NULL;
	pthread_mutex_unlock(&w->mu);
	unlink(d->ckpt);
	rv = update_vm(w, vm_resume_compare, d);
	if (rv) {
		pthread_mutex_lock(&w->mu);
		w->code = rv;
		pthread_mutex_unlock(&w->mu);
		return -EIO;
	}
	return 0;
}

static void *engine_thread(void *arg)
{
	struct worker *w = arg;
	int err = 0;

	for (size_t i = 0; i < w->n && !err; i++) {
		struct wdisk *d = &w->disks[i];

		err = run_disk(w, d);
		if (err == -EILSEQ && d->st.verify_unplanned_diff && !d->fell_back) {
			err = fall_back(w, d);
			if (!err)
				err = run_disk(w, d);
		}
	}
	pthread_mutex_lock(&w->mu);
	w->result = err;
	pthread_mutex_unlock(&w->mu);
	if (write(w->wake[1], "x", 1) < 0)
		wlog(w, LOG_ERR, "waking the main loop failed");
	return NULL;
}

static void set_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* "ddddddddhhmmss.mmmmmm:000", the CIM interval format of ElapsedTime. */
static void cim_interval(uint64_t ns, char buf[32])
{
	uint64_t us = ns / 1000, s = us / 1000000;

	snprintf(buf, 32, "%08llu%02llu%02llu%02llu.%06llu:000",
		 (unsigned long long)(s / 86400), (unsigned long long)(s / 3600 % 24),
		 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60),
		 (unsigned long long)(us % 1000000));
}

/* Copies the engine's figures into the job record and saves it. */
static void record_progress(struct worker *w, bool completed)
{
	json_object *arr = json_object_object_get(w->job, "Disks");
	uint64_t planned = 0, done = 0, total = 0, elapsed = rc_now_ns() - w->start_ns;
	double frac = 0;
	char iv[32];

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++) {
		struct wdisk *d = &w->disks[i];
		json_object *o = json_object_array_get_idx(arr, i);
		total += d->size;
		planned += d->st.bytes_planned;
		done += d->st.bytes_done;
		if (d->done)
			frac += (double)d->size;
		else if (d->st.bytes_planned)
			frac += (double)d->size * (double)d->st.bytes_done / (double)d->st.bytes_planned;
		set_int(o, "BytesToCopy", (int64_t)d->st.bytes_planned);
		set_int(o, "BytesCopied", (int64_t)d->st.bytes_done);
		set_int(o, "BytesWritten", (int64_t)d->st.bytes_written);
		set_int(o, "BytesZeroed", (int64_t)d->st.bytes_zeroed);
		set_int(o, "BytesSkippedEqual", (int64_t)d->st.bytes_skipped_equal);
		set_int(o, "BytesVerified", (int64_t)d->st.bytes_verified);
		if (d->fell_back) {
			json_object_object_add(o, "FellBackFrom",
					       json_object_new_string(ctl_change_source_name(d->from)));
			json_object_object_add(o, "ChangeSource",
					       json_object_new_string(ctl_change_source_name(d->cs)));
			json_object_object_add(o, "ChangeSourceArg", json_object_new_string(""));
			json_object_object_add(o, "ChangeSourceReason",
					       json_object_new_string(d->trust.reason));
			json_object_object_add(o, "TrustRule", json_object_new_string(d->trust.rule));
			json_object_object_add(o, "TrustReason", json_object_new_string(d->trust.reason));
		}
		json_object_object_add(o, "Resumed", json_object_new_boolean(d->st.resumed));
		json_object_object_add(o, "Completed", json_object_new_boolean(d->done));
	}
	pthread_mutex_unlock(&w->mu);
	int pct = total ? (int)(frac * 100 / (double)total) : 0;
	if (completed)
		pct = 100;
	else if (pct > 99)
		pct = 99;
	set_int(w->job, "PercentComplete", pct);
	set_int(w->job, "BytesToCopy", (int64_t)planned);
	set_int(w->job, "BytesCopied", (int64_t)done);
	set_int(w->job, "RateBytesPerSecond",
		elapsed ? (int64_t)((double)done * 1e9 / (double)elapsed) : 0);
	cim_interval(elapsed, iv);
	json_object_object_add(w->job, "ElapsedTime", json_object_new_string(iv));
	set_int(w->job, "ElapsedMilliseconds", (int64_t)(elapsed / 1000000));
	ctl_job_save(&w->st, w->job, NULL);
}

static void set_job_state(struct worker *w, uint32_t state)
{
	ctl_job_set_state(w->job, state);
	ctl_job_save(&w->st, w->job, NULL);
}

/* Applies fn to the VM record under its lock and saves it durably: 0, or
 * the return value of the failure with the reason in w->error. */
static uint32_t update_vm(struct worker *w, void (*fn)(struct worker *, json_object *, void *),
			  void *arg)
{
	const char *name = ctl_json_str(w->job, "VirtualSystem");
	json_object *vm = NULL;
	struct ctl_err e;
	uint32_t rv;
	int fd = -1;

	rv = ctl_vm_lock(&w->st, name, &fd, &e);
	if (!rv)
		rv = ctl_vm_load(&w->st, name, &vm, &e);
	if (!rv) {
		fn(w, vm, arg);
		rv = ctl_vm_save(&w->st, vm, &e);
	}
	if (rv) {
		wlog(w, LOG_ERR, "updating VM %s: %s", name, e.msg);
		snprintf(w->error, sizeof(w->error), "updating VM %s: %s", name, e.msg);
	}
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
}

/* From the first write until completion the targets are inconsistent, and
 * they no longer hold the generation or recovery point they were recorded
 * with.  Saved before the engine starts: a copy that cannot say so does not
 * write. */
static void vm_start_copy(struct worker *w, json_object *vm, void *arg)
{
	(void)arg;
	ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_OK);
	for (size_t i = 0; i < w->n; i++) {
		json_object *d = ctl_vm_disk(vm, w->disks[i].name);
		json_object_object_add(d, "Inconsistent", json_object_new_boolean(true));
		json_object_object_add(d, "GenerationId", json_object_new_string(""));
		json_object_object_add(d, "RecoveryPoint", json_object_new_string(""));
	}
}

static void new_generation(json_object *vm, const char *rp_id, const char *disk, char hex[33])
{
	json_object *rp = ctl_vm_rp(vm, rp_id), *rpdisks = json_object_object_get(rp, "Disks");
	uint8_t g[16];

	for (size_t i = 0; i < json_object_array_length(rpdisks); i++) {
		json_object *rd = json_object_array_get_idx(rpdisks, i);
		const char *gen = ctl_json_str(rd, "GenerationId");
		if (!strcmp(ctl_json_str(rd, "Name"), disk) && gen && ctl_parse_generation(gen, g) == 0) {
			ctl_format_generation(g, hex);
			return;
		}
	}
	/* Without a known generation for the image, a fresh one makes sure no
	 * older change record is ever trusted against this target; without
	 * randomness none ("": unknown, so the next failback compares). */
	if (ctl_random(g, sizeof(g)) < 0)
		hex[0] = '\0';
	else
		ctl_format_generation(g, hex);
}

/* Whether every disk of the VM, not only this job's, holds recovery point rp
 * consistently: only then is the VM's failback complete. */
static bool vm_all_disks_at(json_object *vm, const char *rp)
{
	json_object *disks = json_object_object_get(vm, "Disks");

	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		if (json_object_get_boolean(json_object_object_get(d, "Inconsistent")) ||
		    strcmp(ctl_json_str(d, "RecoveryPoint") ?: "", rp))
			return false;
	}
	return true;
}

static void vm_finish(struct worker *w, json_object *vm, void *arg)
{
	uint32_t *outcome = arg;
	const char *rp = ctl_json_str(w->job, "RecoveryPoint");
	char hex[33];

	for (size_t i = 0; i < w->n; i++) {
		json_object *d = ctl_vm_disk(vm, w->disks[i].name);
		if (!w->disks[i].done)
			continue;
		new_generation(vm, rp, w->disks[i].name, hex);
		json_object_object_add(d, "Inconsistent", json_object_new_boolean(false));
		json_object_object_add(d, "GenerationId", json_object_new_string(hex));
		json_object_object_add(d, "RecoveryPoint", json_object_new_string(rp));
		json_object_object_del(d, "Resume");
	}
	switch (*outcome) {
	case RESYNC_JOB_COMPLETED:
		/* A job over some of the disks completes its part; the VM's
		 * failback is complete only when all of them hold the point. */
		if (vm_all_disks_at(vm, rp))
			ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_COMPLETE, RESYNC_HEALTH_OK);
		else
			ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_WARNING);
		break;
	case RESYNC_JOB_TERMINATED:
		ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_WARNING);
		break;
	default:
		ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_CRITICAL);
		break;
	}
}

static void handle_signal(struct worker *w, int sig)
{
	uint32_t state = ctl_json_u32(w->job, "JobState");

	pthread_mutex_lock(&w->mu);
	if (sig == SIGUSR1 && !w->cancelled) {
		w->paused = true;
		if (w->cur)
			resync_pause(w->cur, 1);
	} else if (sig == SIGUSR2 && !w->cancelled) {
		w->paused = false;
		if (w->cur)
			resync_pause(w->cur, 0);
		pthread_cond_broadcast(&w->cv);
	} else if (sig == SIGTERM) {
		w->cancelled = true;
		if (w->cur)
			resync_cancel(w->cur);
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (sig == SIGUSR1 && state != RESYNC_JOB_SHUTTING_DOWN) {
		wlog(w, LOG_INFO, "suspended by request");
		set_job_state(w, RESYNC_JOB_SUSPENDED);
	} else if (sig == SIGUSR2 && state == RESYNC_JOB_SUSPENDED) {
		wlog(w, LOG_INFO, "resumed by request");
		set_job_state(w, RESYNC_JOB_RUNNING);
	} else if (sig == SIGTERM && state != RESYNC_JOB_SHUTTING_DOWN) {
		wlog(w, LOG_INFO, "terminating by request");
		set_job_state(w, RESYNC_JOB_SHUTTING_DOWN);
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
		snprintf(d->ckpt, sizeof(d->ckpt), "%s/jobs/%s/%s.ckpt", w->st.path, w->id, d->name);
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

static int run_job(struct worker *w, int sfd, int ready_fd)
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
	set_int(w->job, "WorkerPid", pid);
	if (ctl_proc_start_time(pid, &start) == 0)
		set_int(w->job, "WorkerStartTime", start);
	json_object_object_add(w->job, "StartTime", json_object_new_string(ts));
	ctl_job_save(&w->st, w->job, NULL);
	if (write(ready_fd, &pid, sizeof(pid)) != sizeof(pid))
		wlog(w, LOG_WARNING, "the CLI did not wait for the worker");
	close(ready_fd);
	ready_fd = -1;
	wlog(w, LOG_INFO, "failback of VM %s to recovery point %s started, %zu disk(s)",
	     ctl_json_str(w->job, "VirtualSystem"), ctl_json_str(w->job, "RecoveryPoint"), w->n);

	w->code = update_vm(w, vm_start_copy, NULL);
	if (w->code) {
		w->result = -EIO;
		goto finish;
	}
	set_job_state(w, RESYNC_JOB_RUNNING);
	if (pipe2(w->wake, O_CLOEXEC) < 0 || pthread_create(&th, NULL, engine_thread, w)) {
		snprintf(w->error, sizeof(w->error), "starting the engine thread failed");
		w->result = -EAGAIN;
		goto finish;
	}
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
		record_progress(w, false);
	}
	pthread_join(th, NULL);
finish:
	if (ready_fd >= 0)
		close(ready_fd);
	outcome = outcome_of(w, &code);
	if (outcome == RESYNC_JOB_EXCEPTION) {
		ctl_job_set_error(w->job, code, ctl_rv_text(code), w->error);
		wlog(w, LOG_ERR, "failed (%u %s): %s", code, ctl_rv_text(code), w->error);
	} else if (outcome == RESYNC_JOB_TERMINATED) {
		wlog(w, LOG_INFO, "terminated; a new failback resumes from the checkpoint");
	} else {
		wlog(w, LOG_INFO, "completed");
	}
	/* The VM first, so a reader seeing the final job state sees the VM's. */
	if (w->disks)
		update_vm(w, vm_finish, &outcome);
	ctl_job_set_state(w->job, outcome);
	record_progress(w, outcome == RESYNC_JOB_COMPLETED);
	return outcome == RESYNC_JOB_COMPLETED ? 0 : 1;
}

static int worker_main(const char *path, const char *id, int ready_fd)
{
	struct worker w = { .id = id, .logfd = -1, .wake = { -1, -1 } };
	sigset_t set;
	int sfd, dfd, rc;
	uint32_t rv;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.start_ns = rc_now_ns();
	openlog("resyncctl", LOG_PID, LOG_DAEMON);
	if (ctl_store_open(&w.st, path) < 0)
		return 2;
	dfd = ctl_open_dir(w.st.jobs, id);
	if (dfd >= 0) {
		w.logfd = openat(dfd, "log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (w.logfd >= 0)
			dup2(w.logfd, STDERR_FILENO);
		close(dfd);
	}
	rv = ctl_job_load(&w.st, id, &w.job, NULL);
	if (rv) {
		syslog(LOG_ERR, "job %s: record unreadable", id);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	rc = run_job(&w, sfd, ready_fd);
	json_object_put(w.job);
	ctl_settings_free(&w.set);
	free(w.disks);
	ctl_store_close(&w.st);
	closelog();
	return rc;
}

int ctl_worker_spawn(struct ctl_store *s, const char *id, int lockfd)
{
	sigset_t set, old;
	int p[2], status;
	pid_t child, pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Blocked before the fork, so a suspend that arrives before the
	 * worker's signalfd exists waits for it instead of killing it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		/* Keep only what the worker needs: the lock (whose open file
		 * description now also belongs to it) and the ready pipe. */
		int hl = fcntl(lockfd, F_DUPFD, 100), hp = fcntl(p[1], F_DUPFD, 100);
		if (hl < 0 || hp < 0 || dup2(hl, 3) < 0 || dup2(hp, 4) < 0)
			_exit(2);
		close_range(5, ~0u, 0);
		_exit(worker_main(s->path, id, 4));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (child < 0) {
		close(p[0]);
		return -errno;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	do
		n = read(p[0], &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	return n == sizeof(pid) ? 0 : -ECHILD;
}
