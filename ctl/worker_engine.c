/* SPDX-License-Identifier: MIT */
/*
 * The worker's engine thread: one libresync run per disk, every disk at once
 * in a thread of its own, configured from the job's settings
 * (ctl_engine_configure, shared with InitiateFailback's check), paused and
 * cancelled by the main loop through each disk's handle, and falling back to
 * a compare when verify shows the change record missed a change.
 *
 * Why a thread and a handle (so a ring) per disk, not one ring for all: a
 * run owns its ring and its loop, so one ring would mean an engine that
 * plans, checkpoints and fails per disk inside one loop; with a thread each
 * every disk keeps exactly its sequential behaviour (its checkpoint, its
 * errors, its verify) and two cores are used.  Measured (bench disks2,
 * resyncctl-par-1cpu): both disks' engine work fits one CPU, so one ring
 * would save at most the switches between two threads, not the kernel's
 * copies that are most of the worker's CPU.  The job's limits are shared:
 * the rate limit through one rate-limit group (resync_set_rate_group(): the
 * disks with work share it evenly, a disk that finished or needs less leaves
 * its part to the others), and memory_limit divided evenly between the
 * disks, each disk's buffers fitting its share.  A disk that fails does not
 * stop the others: each is recorded as it ended.  RESYNCCTL_SEQUENTIAL_DISKS=1
 * copies them one after the other as before (the bench compares the two).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include "resync/resync.h"
#include "trust.h"
#include "vm.h"
#include "worker.h"
#include "worker_internal.h"

/* The engine's request size and depth for this disk, with its reasons, for
 * the job record: final once the copy phase starts (the memory limit has
 * had its say); d->r is the run calling back, set by this thread. */
static void record_io_choice(struct wdisk *d)
{
	const char *why = resync_io_choice(d->r, &d->io_request, &d->io_depth, NULL);

	snprintf(d->io_choice, sizeof(d->io_choice), "%s", why);
}

static void on_progress(const struct resync_stats *stats, void *arg)
{
	struct wdisk *d = arg;

	pthread_mutex_lock(&d->w->mu);
	d->st = *stats;
	if (d->r && stats->phase >= RESYNC_PHASE_COPY)
		record_io_choice(d);
	pthread_mutex_unlock(&d->w->mu);
}

static enum resync_mode engine_mode(enum ctl_change_source cs)
{
	switch (cs) {
	case CTL_CS_BITMAP:
		return RESYNC_BITMAP;
	case CTL_CS_NBD_DIRTY:
		return RESYNC_NBD_DIRTY;
	case CTL_CS_EXTENTS:
		return RESYNC_EXTENTS;
	case CTL_CS_FULL:
		return RESYNC_FULL;
	default:
		return RESYNC_COMPARE;
	}
}

int ctl_engine_configure(resync *r, const struct ctl_settings *s, const char *source,
			 const char *target, enum ctl_change_source cs, const char *cs_arg)
{
	int err;

	if ((err = resync_set_source(r, source)) || (err = resync_set_target(r, target)) ||
	    (err = resync_set_mode(r, engine_mode(cs), cs_arg)) ||
	    (err = resync_set_flags(r, s->verify ? RESYNC_F_VERIFY : 0)) ||
	    (err = resync_set_rate_limit(r, s->rate_limit)))
		return err;
	/* Unset, the engine chooses per disk from what its endpoints report
	 * (the job record shows the choice: record_io_choice()). */
	if (s->queue_depth && (err = resync_set_queue_depth(r, s->queue_depth)))
		return err;
	if (s->request_size && (err = resync_set_request_size(r, s->request_size)))
		return err;
	/* A copy by a change record checks the record: what it wrote, and a
	 * sample of what the record says did not change. */
	if (!s->verify && (cs == CTL_CS_BITMAP || cs == CTL_CS_NBD_DIRTY || cs == CTL_CS_EXTENTS) &&
	    (err = resync_set_verify(r,
				     s->verify_sample_per_gib || s->verify_sample_min ?
					     RESYNC_VERIFY_SAMPLE :
					     RESYNC_VERIFY_PLANNED,
				     s->verify_sample_per_gib, s->verify_sample_min)))
		return err;
	if (s->tls_certificates || s->tls_psk_file || s->tls_username)
		err = resync_set_tls(r, s->tls_certificates, s->tls_psk_file, s->tls_username);
	if (!err)
		err = resync_set_nbd_connect_timeout(r, s->nbd_connect_timeout_ms);
	return err;
}

static bool sequential(void)
{
	const char *e = getenv("RESYNCCTL_SEQUENTIAL_DISKS");
	return e && !strcmp(e, "1");
}

/* The disk's share of memory_limit.  The engine keeps a run within it
 * (resync_set_memory_limit()): only it knows the block size a request may
 * not go below, the plan's bitmaps and the verify digests, so it shrinks
 * the requests, then the queue depth, and fails the disk with ENOMEM
 * (32778) when one block at depth 1 does not fit. */
static uint64_t disk_memory(const struct worker *w)
{
	return w->set.memory_limit / (sequential() ? 1 : w->n);
}

static int configure(struct worker *w, struct wdisk *d, resync *r)
{
	int err = ctl_engine_configure(r, &w->set, d->source, d->target, d->cs, d->cs_arg);

	if (!err)
		err = resync_set_memory_limit(r, disk_memory(w));
	if (!err)
		err = resync_set_rate_group(r, w->rate);

	if (!err)
		err = resync_set_checkpoint(r, d->ckpt, CHECKPOINT_MS, CHECKPOINT_BYTES);
	if (!err)
		err = resync_set_progress(r, on_progress, d, PROGRESS_MS);
	return err;
}

/* Runs one disk to its end: 0 or the engine's negative errno, the reason
 * in d->error. */
static int run_disk(struct worker *w, struct wdisk *d)
{
	resync *r = resync_new();
	int err;

	if (!r) {
		pthread_mutex_lock(&w->mu);
		snprintf(d->error, sizeof(d->error), "disk %s: out of memory", d->name);
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
		snprintf(d->error, sizeof(d->error), "disk %s: %s", d->name,
			 *resync_error(r) ? resync_error(r) : strerror(-err));
		pthread_mutex_unlock(&w->mu);
		resync_free(r);
		return err;
	}
	d->r = r;
	pthread_mutex_unlock(&w->mu);
	worker_log(w, LOG_INFO, "disk %s: %s -> %s, change source %s", d->name, d->source,
		   d->target, ctl_change_source_name(d->cs));

	err = resync_run(r);

	if (resync_memory_used(r))
		worker_log(w, LOG_INFO, "disk %s: %llu bytes of buffers and tables, of its %llu",
			   d->name, (unsigned long long)resync_memory_used(r),
			   (unsigned long long)disk_memory(w));
	pthread_mutex_lock(&w->mu);
	d->r = NULL;
	resync_get_stats(r, &d->st);
	d->done = err == 0;
	if (err)
		snprintf(d->error, sizeof(d->error), "disk %s: %s", d->name, resync_error(r));
	pthread_mutex_unlock(&w->mu);
	if (!err)
		worker_log(w, LOG_INFO,
			   "disk %s: done, %llu bytes planned, %llu written, %llu zeroed, "
			   "%llu verified%s",
			   d->name, (unsigned long long)d->st.bytes_planned,
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
	char why[400];
	uint32_t rv;

	ctl_trust_decide(&f, &t);
	worker_log(w, LOG_WARNING,
		   "disk %s: %s change record not trusted any more (rule %s): %s; "
		   "copying again by %s",
		   d->name, ctl_change_source_name(d->cs), t.rule, t.reason,
		   ctl_change_source_name(t.cs));
	pthread_mutex_lock(&w->mu);
	d->fell_back = true;
	d->from = d->cs;
	d->trust = t;
	d->cs = t.cs;
	d->cs_arg = NULL;
	pthread_mutex_unlock(&w->mu);
	unlink(d->ckpt);
	rv = worker_update_vm(w, vm_resume_compare, d, why, sizeof(why));
	if (rv) {
		/* The disk's own code and reason: with disks in parallel
		 * another disk's may be the job's. */
		pthread_mutex_lock(&w->mu);
		d->code = rv;
		snprintf(d->error, sizeof(d->error), "disk %s: falling back to %s: %s", d->name,
			 ctl_change_source_name(t.cs), why);
		pthread_mutex_unlock(&w->mu);
		return -EIO;
	}
	return 0;
}

/* One disk to its end, falling back to a compare once if verify says its
 * change record missed a change: 0 or the negative errno, in d->err too. */
static int copy_disk(struct worker *w, struct wdisk *d)
{
	int err = run_disk(w, d);

	if (err == -EILSEQ && d->st.verify_unplanned_diff && !d->fell_back) {
		err = fall_back(w, d);
		if (!err)
			err = run_disk(w, d);
	}
	d->err = err;
	return err;
}

static void *disk_thread(void *arg)
{
	struct wdisk *d = arg;

	copy_disk(d->w, d);
	return NULL;
}

/* Every disk at once.  A disk whose thread cannot start fails alone. */
static void copy_parallel(struct worker *w)
{
	pthread_t *th = calloc(w->n, sizeof(*th));
	bool *started = calloc(w->n, sizeof(*started));

	for (size_t i = 0; i < w->n; i++) {
		struct wdisk *d = &w->disks[i];
		if (th && started && pthread_create(&th[i], NULL, disk_thread, d) == 0) {
			started[i] = true;
			continue;
		}
		d->err = -EAGAIN;
		pthread_mutex_lock(&w->mu);
		snprintf(d->error, sizeof(d->error), "disk %s: starting its thread failed",
			 d->name);
		pthread_mutex_unlock(&w->mu);
	}
	for (size_t i = 0; i < w->n; i++)
		if (started && started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}

/* The job's result: the first disk's failure (a cancel only when nothing
 * else failed), with its reason and code, both of that one disk. */
static int job_result(struct worker *w)
{
	struct wdisk *first = NULL;

	for (size_t i = 0; i < w->n; i++) {
		struct wdisk *d = &w->disks[i];
		if (d->err && (!first || (first->err == -ECANCELED && d->err != -ECANCELED)))
			first = d;
	}
	if (first && first->error[0])
		snprintf(w->error, sizeof(w->error), "%s", first->error);
	if (first)
		w->code = first->code;
	return first ? first->err : 0;
}

void *worker_engine_thread(void *arg)
{
	struct worker *w = arg;
	int err = 0;

	if (w->set.rate_limit && (err = resync_rate_group_new(&w->rate, w->set.rate_limit))) {
		pthread_mutex_lock(&w->mu);
		snprintf(w->error, sizeof(w->error), "rate limit: %s", strerror(-err));
		pthread_mutex_unlock(&w->mu);
	} else {
		if (w->n > 1 && !sequential())
			copy_parallel(w);
		else
			for (size_t i = 0; i < w->n && !err; i++)
				err = copy_disk(w, &w->disks[i]);
		pthread_mutex_lock(&w->mu);
		err = job_result(w);
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_lock(&w->mu);
	w->result = err;
	pthread_mutex_unlock(&w->mu);
	resync_rate_group_free(w->rate);
	w->rate = NULL;
	if (write(w->wake[1], "x", 1) < 0)
		worker_log(w, LOG_ERR, "waking the main loop failed");
	return NULL;
}
