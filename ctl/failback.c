/* SPDX-License-Identifier: MIT */
/* InitiateFailback: see failback.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "resync/resync.h"
#include "resync/change_bitmap.h"
#include "resync/return_codes.h"
#include "resync/states.h"
#include "endpoint_check.h"
#include "failback.h"
#include "recovery_point.h"
#include "settings.h"
#include "state_machine.h"
#include "trust.h"
#include "vm.h"
#include "worker.h"

uint64_t ctl_memory_budget(void)
{
	uint64_t budget = UINT64_MAX;
	struct rlimit rl;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (f) {
		unsigned long long kb;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
				budget = (uint64_t)kb * 1024 / 2;
		fclose(f);
	}
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_cur < budget)
		budget = (uint64_t)rl.rlim_cur;
	return budget;
}

/* One disk of the plan: what to copy from where, and how to find what differs. */
struct plan_disk {
	json_object *vmdisk;
	const char *name;
	const char *source;
	const char *target;
	uint64_t size;
	bool source_nbd;
	enum ctl_change_source cs;
	const char *cs_arg;
	struct ctl_trust trust;
	json_object *binding;   /* what a checkpoint of this disk is bound to */
	const char *resume_job; /* the job whose checkpoint this disk continues */
};

/* The facts about an earlier job's checkpoint for this disk: the VM disk's
 * Resume record, when it names this recovery point. */
static void resume_facts(struct ctl_store *s, struct plan_disk *d, const char *rp_id,
			 struct ctl_trust_facts *f, char *diff, size_t difflen)
{
	json_object *resume, *job = NULL;
	char ck[CTL_NAME_MAX + 8];
	const char *jid;
	int dfd;

	if (!json_object_object_get_ex(d->vmdisk, "Resume", &resume) ||
	    strcmp(ctl_json_str(resume, "RecoveryPoint") ?: "", rp_id))
		return;
	jid = ctl_json_str(resume, "Job");
	if (!jid || !ctl_name_valid(jid))
		return;
	f->has_resume = true;
	f->resume_job = jid;
	f->resume_cs = ctl_trust_record_source(ctl_json_str(resume, "ChangeSource") ?: "");
	ctl_trust_binding_diff(json_object_object_get(resume, "Binding"), d->binding, diff,
			       difflen);
	f->binding_diff = diff;
	dfd = ctl_open_dir(s->jobs, jid);
	if (dfd >= 0) {
		snprintf(ck, sizeof(ck), "%s.ckpt", d->name);
		f->checkpoint_present = faccessat(dfd, ck, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		close(dfd);
	}
	/* A worker that vanished (32771) says nothing against its change source. */
	if (ctl_job_load(s, jid, &job, NULL) == 0) {
		f->resume_job_failed = ctl_json_u32(job, "JobState") == RESYNC_JOB_EXCEPTION &&
				       ctl_json_u32(job, "ErrorCode") != RESYNC_RV_STATUS_UNKNOWN;
		json_object_put(job);
	}
}

/* Gathers the facts, lets the trust rules decide (trust.c), and checks an
 * explicitly requested change record was the one they allowed. */
static uint32_t choose_source(struct ctl_store *s, struct plan_disk *d, json_object *rp,
			      json_object *rpdisk, const struct ctl_settings *set,
			      struct ctl_err *e)
{
	struct ctl_trust_facts f = { .requested = set->change_source };
	enum ctl_change_source want = set->change_source;
	json_object *cr = NULL;
	const char *rp_id = ctl_json_str(rp, "Id"), *kind;
	char diff[400] = "";

	d->binding = ctl_trust_binding(rp, rpdisk, d->size);
	f.target_inconsistent =
		json_object_get_boolean(json_object_object_get(d->vmdisk, "Inconsistent"));
	f.target_generation = ctl_json_str(d->vmdisk, "TargetGenerationId");
	resume_facts(s, d, rp_id, &f, diff, sizeof(diff));
	json_object_object_get_ex(rpdisk, "ChangeRecord", &cr);
	ctl_trust_read_record(cr, d->source_nbd, d->size, &f);
	kind = f.record_kind;
	if (kind && !strcmp(kind, "nbd-dirty") && !f.record_unusable &&
	    (want == CTL_CS_AUTO || want == CTL_CS_NBD_DIRTY)) {
		struct ctl_endpoint_check p;
		char meta[CTL_NAME_MAX + 128];
		snprintf(meta, sizeof(meta), "qemu:dirty-bitmap:%s",
			 ctl_json_str(cr, "Name") ?: "");
		f.record_rv = ctl_endpoint_check(d->source, "image", false, meta, set, &p, e);
		if (f.record_rv) {
			f.record_unusable = true;
			snprintf(f.record_problem, sizeof(f.record_problem), "%.190s", e->msg);
		}
	}
	ctl_trust_decide(&f, &d->trust);
	d->cs = d->trust.cs;
	d->cs_arg = NULL;
	if (d->trust.verdict == CTL_TRUST_RESUME) {
		d->resume_job = f.resume_job;
		d->cs_arg = ctl_json_str(json_object_object_get(d->vmdisk, "Resume"),
					 "ChangeSourceArg");
	} else if (d->trust.verdict == CTL_TRUST_USE_RECORD) {
		d->cs_arg = ctl_json_str(cr, !strcmp(kind, "nbd-dirty") ? "Name" : "Path");
	}
	if (d->cs_arg && !*d->cs_arg)
		d->cs_arg = NULL;
	if (want == CTL_CS_AUTO || want == d->cs)
		return 0;
	if (!kind || ctl_trust_record_source(kind) != want)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"disk \"%s\": recovery point \"%s\" has no %s change record",
				d->name, rp_id, ctl_change_source_name(want));
	if (f.record_rv)
		return ctl_fail(e, f.record_rv, "disk \"%s\": %s", d->name, f.record_problem);
	return ctl_fail(
		e, RESYNC_RV_INVALID_PARAMETER,
		"disk \"%s\": %s change record not trusted (rule %s): %s; use compare or full",
		d->name, kind, d->trust.rule, d->trust.reason);
}

static uint32_t check_disk(struct plan_disk *d, const struct ctl_settings *set, struct ctl_err *e)
{
	struct ctl_endpoint_check src, dst;
	uint32_t rv;

	rv = ctl_endpoint_check(d->source, "image", false, NULL, set, &src, e);
	if (!rv)
		rv = ctl_endpoint_check(d->target, "target", true, NULL, set, &dst, e);
	if (rv)
		return rv;
	if (src.size != dst.size)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"disk \"%s\": image is %llu bytes, target %llu bytes", d->name,
				(unsigned long long)src.size, (unsigned long long)dst.size);
	d->size = src.size;
	d->source_nbd = src.is_nbd;
	return 0;
}

/* Asks the engine to open both endpoints and plan exactly as the worker will,
 * without reading or writing data: whatever it would refuse (an extent list
 * it cannot parse or that passes the disk's end, a granularity it cannot
 * copy in, a read-only target) is refused now, with nothing changed. */
static uint32_t preflight(struct plan_disk *d, const struct ctl_settings *set, struct ctl_err *e)
{
	resync *r = resync_new();
	uint32_t rv = 0;
	int err;

	if (!r)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	err = ctl_engine_configure(r, set, d->source, d->target, d->cs, d->cs_arg);
	if (!err)
		err = resync_set_flags(r, RESYNC_F_CHECK_ONLY);
	if (!err)
		err = resync_run(r);
	if (err)
		rv = ctl_fail(e, ctl_rv_from_errno(err), "disk \"%s\" (%s): %s", d->name,
			      ctl_change_source_name(d->cs),
			      *resync_error(r) ? resync_error(r) : strerror(-err));
	resync_free(r);
	return rv;
}

static json_object *plan_json(const struct plan_disk *d)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "Name", json_object_new_string(d->name));
	json_object_object_add(o, "Source", json_object_new_string(d->source));
	json_object_object_add(o, "Target", json_object_new_string(d->target));
	json_object_object_add(o, "Size", json_object_new_int64((int64_t)d->size));
	json_object_object_add(o, "ChangeSource",
			       json_object_new_string(ctl_change_source_name(d->cs)));
	json_object_object_add(o, "ChangeSourceArg", json_object_new_string(d->cs_arg ?: ""));
	json_object_object_add(o, "ChangeSourceReason", json_object_new_string(d->trust.reason));
	json_object_object_add(o, "TrustRule", json_object_new_string(d->trust.rule));
	json_object_object_add(o, "TrustReason", json_object_new_string(d->trust.reason));
	/* Whether the checkpoint offered is used is the engine's to say:
	 * Resumed and ResumedFrom follow its stats (job_progress.c). */
	json_object_object_add(o, "ResumeOffered", json_object_new_string(d->resume_job ?: ""));
	json_object_object_add(o, "ResumedFrom", json_object_new_string(""));
	json_object_object_add(o, "Resumed", json_object_new_boolean(false));
	json_object_object_add(o, "BytesToCopy", json_object_new_int64(0));
	json_object_object_add(o, "BytesCopied", json_object_new_int64(0));
	json_object_object_add(o, "Completed", json_object_new_boolean(false));
	return o;
}

static json_object *new_job(const char *id, const char *vm, const char *rp,
			    const struct ctl_settings *set, struct plan_disk *disks, size_t n)
{
	json_object *job = json_object_new_object(), *arr = json_object_new_array();
	struct timespec ts;
	char t[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	ctl_format_time(ts.tv_sec, t);
	json_object_object_add(job, "InstanceID", json_object_new_string(id));
	json_object_object_add(job, "JobType",
			       json_object_new_int64(RESYNC_JOB_TYPE_INITIATE_FAILBACK));
	json_object_object_add(job, "Name", json_object_new_string("Initiate failback"));
	ctl_job_set_state(job, RESYNC_JOB_NEW);
	json_object_object_add(job, "PercentComplete", json_object_new_int64(0));
	ctl_job_set_error(job, 0, "", "");
	json_object_object_add(job, "TimeSubmitted", json_object_new_string(t));
	json_object_object_add(job, "TimeSubmittedEpochNs",
			       json_object_new_int64((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec));
	json_object_object_add(job, "StartTime", json_object_new_string(""));
	json_object_object_add(job, "ElapsedTime", json_object_new_string(""));
	json_object_object_add(job, "ElapsedMilliseconds", json_object_new_int64(0));
	json_object_object_add(job, "VirtualSystem", json_object_new_string(vm));
	json_object_object_add(job, "RecoveryPoint", json_object_new_string(rp));
	json_object_object_add(job, "BytesToCopy", json_object_new_int64(0));
	json_object_object_add(job, "BytesCopied", json_object_new_int64(0));
	json_object_object_add(job, "RateBytesPerSecond", json_object_new_int64(0));
	json_object_object_add(job, "WorkerPid", json_object_new_int64(0));
	json_object_object_add(job, "Settings", ctl_settings_to_json(set));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, plan_json(&disks[i]));
	json_object_object_add(job, "Disks", arr);
	return job;
}

/* Carries a resumed disk's checkpoint into the new job's folder; anything
 * else a previous job left for these disks is stale and goes. */
static void carry_checkpoints(struct ctl_store *s, int newdir, struct plan_disk *d)
{
	char f[CTL_NAME_MAX + 8];
	const char *old = ctl_json_str(json_object_object_get(d->vmdisk, "Resume"), "Job");
	int odir;

	if (!old || !*old || !ctl_name_valid(old))
		return;
	odir = ctl_open_dir(s->jobs, old);
	if (odir < 0)
		return;
	snprintf(f, sizeof(f), "%s.ckpt", d->name);
	if (d->resume_job && renameat(odir, f, newdir, f) == 0) {
		fsync(newdir);
		fsync(odir);
	} else {
		ctl_unlink(odir, f);
	}
	close(odir);
}

static void record_resume(struct plan_disk *d, const char *job, const char *rp)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "Job", json_object_new_string(job));
	json_object_object_add(r, "RecoveryPoint", json_object_new_string(rp));
	json_object_object_add(r, "ChangeSource",
			       json_object_new_string(ctl_change_source_name(d->cs)));
	json_object_object_add(r, "ChangeSourceArg", json_object_new_string(d->cs_arg ?: ""));
	json_object_object_add(r, "Binding", json_object_get(d->binding));
	json_object_object_add(d->vmdisk, "Resume", r);
}

/* Checks the VM's current job: 32774 while a worker still runs it (a worker
 * that recorded its final state is only exiting); a job whose worker vanished
 * is recorded as such and the VM is free. */
static uint32_t check_current_job(struct ctl_store *s, json_object *vm, struct ctl_err *e)
{
	const char *cur = ctl_json_str(vm, "CurrentJob");
	json_object *job = NULL;

	if (!cur || !*cur)
		return 0;
	if (ctl_job_running(s, cur) == 1)
		return ctl_fail(e, RESYNC_RV_IN_USE,
				"job %s is already running a failback of VM \"%s\"", cur,
				ctl_json_str(vm, "Name"));
	ctl_job_reap(s, cur, &job, false, NULL);
	json_object_put(job);
	return 0;
}

static uint32_t select_disks(json_object *vm, json_object *rp, const struct ctl_settings *set,
			     struct plan_disk **out, size_t *n, struct ctl_err *e)
{
	json_object *vmdisks = json_object_object_get(vm, "Disks");
	json_object *rpdisks = json_object_object_get(rp, "Disks");
	size_t total = json_object_array_length(vmdisks), k = 0;
	struct plan_disk *d;

	for (size_t i = 0; i < set->ndisks; i++)
		if (!ctl_vm_disk(vm, set->disks[i]))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"settings: VM has no disk \"%s\"", set->disks[i]);
	d = calloc(total, sizeof(*d));
	if (!d)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	for (size_t i = 0; i < total; i++) {
		json_object *vd = json_object_array_get_idx(vmdisks, i);
		const char *name = ctl_json_str(vd, "Name");
		bool want = !set->disks;
		for (size_t j = 0; j < set->ndisks; j++)
			want |= !strcmp(set->disks[j], name);
		if (!want)
			continue;
		d[k].vmdisk = vd;
		d[k].name = name;
		d[k].target = ctl_json_str(vd, "Target");
		for (size_t j = 0; j < json_object_array_length(rpdisks); j++) {
			json_object *rd = json_object_array_get_idx(rpdisks, j);
			if (!strcmp(ctl_json_str(rd, "Name"), name))
				d[k].source = ctl_json_str(rd, "Image");
		}
		k++;
	}
	*out = d;
	*n = k;
	return 0;
}

static json_object *rp_disk(json_object *rp, const char *name)
{
	json_object *rpdisks = json_object_object_get(rp, "Disks");

	for (size_t j = 0; j < json_object_array_length(rpdisks); j++) {
		json_object *rd = json_object_array_get_idx(rpdisks, j);
		if (!strcmp(ctl_json_str(rd, "Name"), name))
			return rd;
	}
	return NULL;
}

uint32_t ctl_initiate_failback(struct ctl_store *s, const struct ctl_failback_req *req,
			       char job_id[CTL_JOB_ID_LEN], struct ctl_err *e)
{
	struct ctl_settings set;
	struct plan_disk *disks = NULL;
	size_t n = 0;
	json_object *vm = NULL, *rp, *job = NULL;
	const char *rp_id;
	uint32_t rv, mode, state;
	int vmfd = -1, dfd = -1, lockfd = -1, err;
	bool created = false;
	uint64_t need;

	job_id[0] = '\0';
	rv = ctl_settings_parse(req->settings, &set, e);
	if (rv)
		return rv;
	rv = ctl_vm_lock(s, req->vm, &vmfd, e);
	if (!rv)
		rv = ctl_vm_load(s, req->vm, &vm, e);
	if (!rv)
		rv = check_current_job(s, vm, e);
	if (rv)
		goto out;
	mode = ctl_json_u32(vm, "ReplicationMode");
	state = ctl_json_u32(vm, "ReplicationState");
	if (!ctl_vm_failback_state_ok(mode, state)) {
		rv = ctl_fail(
			e, RESYNC_RV_INVALID_STATE,
			"VM \"%s\" is not a recovery VM ready for failback (mode %u, state %u); "
			"failback needs mode 2 Replica in state 5, 6, 13 or 32768",
			req->vm, mode, state);
		goto out;
	}
	rp = ctl_vm_rp(vm, req->recovery_point);
	if (!rp) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
			      "VM \"%s\" has no recovery point \"%s\"", req->vm,
			      req->recovery_point && *req->recovery_point ? req->recovery_point :
									    "(latest)");
		goto out;
	}
	rp_id = ctl_json_str(rp, "Id");
	rv = select_disks(vm, rp, &set, &disks, &n, e);
	if (!rv)
		rv = ctl_vm_check_targets(s, req->vm, json_object_object_get(vm, "Disks"), e);
	if (rv)
		goto out;
	/* Only a depth and size both set are known here: the engine's own
	 * choice fits each disk's share of memory_limit (disk_memory()). */
	need = (uint64_t)set.queue_depth * set.request_size *
	       (set.verify || set.change_source != CTL_CS_FULL ? 2 : 1);
	if (set.queue_depth && set.request_size && need > ctl_memory_budget()) {
		rv = ctl_fail(
			e, RESYNC_RV_OUT_OF_MEMORY,
			"queue_depth x request_size needs %llu bytes of buffers; the budget is %llu",
			(unsigned long long)need, (unsigned long long)ctl_memory_budget());
		goto out;
	}
	for (size_t i = 0; i < n && !rv; i++) {
		rv = check_disk(&disks[i], &set, e);
		if (!rv)
			rv = choose_source(s, &disks[i], rp, rp_disk(rp, disks[i].name), &set, e);
		if (!rv)
			rv = preflight(&disks[i], &set, e);
	}
	if (rv)
		goto out;

	/* Everything checked: from here on state changes. */
	err = ctl_job_new_id(job_id);
	if (err < 0) {
		rv = ctl_fail(e, RESYNC_RV_FAILED, "no random job id: getrandom: %s",
			      strerror(-err));
		goto out;
	}
	err = ctl_job_create(s, job_id, &dfd, &lockfd);
	if (err < 0) {
		rv = ctl_fail(e, ctl_rv_from_errno(err), "creating job in %s/jobs: %s", s->path,
			      strerror(-err));
		goto out;
	}
	created = true;
	job = new_job(job_id, req->vm, rp_id, &set, disks, n);
	rv = ctl_job_save(s, job, e);
	if (rv)
		goto out;
	json_object_object_add(vm, "CurrentJob", json_object_new_string(job_id));
	ctl_vm_set_state(vm, RESYNC_STATE_WAITING_FOR_FAILBACK, RESYNC_HEALTH_OK);
	for (size_t i = 0; i < n; i++) {
		carry_checkpoints(s, dfd, &disks[i]);
		record_resume(&disks[i], job_id, rp_id);
	}
	rv = ctl_vm_save(s, vm, e);
	if (rv)
		goto out;
	created = false;
	ctl_job_set_state(job, RESYNC_JOB_STARTING);
	rv = ctl_job_save(s, job, e);
	if (!rv) {
		err = ctl_worker_spawn(s, job_id, lockfd);
		if (err < 0)
			rv = ctl_fail(e, ctl_rv_from_errno(err), "starting the worker: %s",
				      strerror(-err));
	}
	if (rv) {
		/* The VM already waits for failback: leave a job that says why,
		 * so the next failback resumes. */
		ctl_job_set_state(job, RESYNC_JOB_EXCEPTION);
		ctl_job_set_error(job, rv, ctl_rv_text(rv), e->msg);
		ctl_job_save(s, job, NULL);
		goto out;
	}
	rv = RESYNC_RV_JOB_STARTED;
out:
	if (created) {
		ctl_job_discard(s, job_id);
		job_id[0] = '\0';
	}
	if (lockfd >= 0)
		close(lockfd);
	if (dfd >= 0)
		close(dfd);
	ctl_unlock(vmfd);
	json_object_put(job);
	json_object_put(vm);
	for (size_t i = 0; i < n; i++)
		json_object_put(disks[i].binding);
	free(disks);
	ctl_settings_free(&set);
	return rv;
}
