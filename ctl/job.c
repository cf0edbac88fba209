/* SPDX-License-Identifier: MIT */
/* Job records and their lifecycle: see job.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "job.h"
#include "journal.h"
#include "record.h"
#include "state_machine.h"
#include "vm.h"

int ctl_job_new_id(char id[CTL_JOB_ID_LEN])
{
	uint8_t b[16];
	int err = rc_guid_random(b);

	if (err < 0)
		return err;
	rc_guid_text(b, id);
	return 0;
}

int ctl_job_create(struct ctl_store *s, const char *id, int *dfd, int *lockfd)
{
	char tmp[CTL_JOB_ID_LEN + 32];
	int err, fd = -1, lfd = -1;

	*dfd = *lockfd = -1;
	snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", id, (long)getpid());
	if (mkdirat(s->jobs, tmp, ctl_create_mode(0700)) < 0)
		return -errno;
	fd = ctl_open_dir(s->jobs, tmp);
	err = fd < 0 ? fd : ctl_lock(fd, "lock", false, &lfd);
	if (!err && renameat2(s->jobs, tmp, s->jobs, id, RENAME_NOREPLACE) < 0)
		err = -errno;
	if (!err && fsync(s->jobs) < 0)
		err = -errno;
	if (err < 0) {
		if (lfd >= 0)
			close(lfd);
		if (fd >= 0)
			close(fd);
		ctl_remove_dir(s->jobs,
			       faccessat(s->jobs, tmp, F_OK, AT_SYMLINK_NOFOLLOW) ? id : tmp);
		return err;
	}
	*dfd = fd;
	*lockfd = lfd;
	return 0;
}

int ctl_proc_start_time(pid_t pid, long long *start)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')': skip to its last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %*c"
			 " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
			 " %*s %*s %*s %*s %*s %*s %*s %*s %lld",
			 start) != 1)
		return -EIO;
	return 0;
}

bool ctl_job_state_final(uint32_t state)
{
	return state == RESYNC_JOB_COMPLETED || state == RESYNC_JOB_TERMINATED ||
	       state == RESYNC_JOB_KILLED || state == RESYNC_JOB_EXCEPTION;
}

int ctl_job_alive(struct ctl_store *s, const char *id)
{
	int dfd, held;

	if (!ctl_name_valid(id))
		return 0;
	dfd = ctl_open_dir(s->jobs, id);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	held = ctl_lock_held(dfd, "lock");
	close(dfd);
	return held;
}

int ctl_job_running(struct ctl_store *s, const char *id)
{
	json_object *job = NULL;
	int alive = ctl_job_alive(s, id);

	if (alive != 1)
		return alive;
	if (ctl_job_load(s, id, &job, NULL) == 0 &&
	    ctl_job_state_final(ctl_json_u32(job, "JobState")))
		alive = 0;
	json_object_put(job);
	return alive;
}

uint32_t ctl_job_load(struct ctl_store *s, const char *id, json_object **job, struct ctl_err *e)
{
	char why[256];
	int dfd, err;

	*job = NULL;
	if (!ctl_name_valid(id))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid job id \"%s\"", id);
	dfd = ctl_open_dir(s->jobs, id);
	if (dfd == -ENOENT)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "unknown job %s", id);
	if (dfd == -EPERM) {
		ctl_untrusted_reason(s->jobs, id, why, sizeof(why));
		return ctl_fail(e, RESYNC_RV_ACCESS_DENIED, "job folder %s/jobs/%s not trusted: %s",
				s->path, id, why);
	}
	if (dfd < 0)
		return ctl_fail(e,
				dfd == -ELOOP || dfd == -ENOTDIR ? RESYNC_RV_STATUS_UNKNOWN :
								   ctl_rv_from_errno(dfd),
				"job %s: %s", id, strerror(-dfd));
	err = ctl_read_json(dfd, "job.json", job);
	if (err == -EPERM)
		ctl_untrusted_reason(dfd, "job.json", why, sizeof(why));
	close(dfd);
	if (err == -EPERM)
		return ctl_fail(e, RESYNC_RV_ACCESS_DENIED,
				"job record %s/jobs/%s/job.json not trusted: %s", s->path, id, why);
	if (err < 0)
		return ctl_fail(e,
				err == -ENOMEM ? RESYNC_RV_OUT_OF_MEMORY : RESYNC_RV_STATUS_UNKNOWN,
				"job %s: record unreadable: %s", id,
				err == -EBADMSG ? "not JSON (an object)" : strerror(-err));
	if (ctl_job_record_check(*job, id, why, sizeof(why)) < 0) {
		json_object_put(*job);
		*job = NULL;
		return ctl_fail(e, RESYNC_RV_STATUS_UNKNOWN, "job %s: record unreadable: %s", id,
				why);
	}
	return 0;
}

/* The record as stored: NULL when absent, an empty object when unreadable
 * (so every watched property counts as changed). */
static json_object *stored_record(int dfd, const char *name)
{
	json_object *o = NULL;
	int err = ctl_read_json(dfd, name, &o);

	return err == -ENOENT ? NULL : err < 0 ? json_object_new_object() : o;
}

/* The event first (journal.h): a change the journal cannot show is not made. */
uint32_t ctl_job_save(struct ctl_store *s, json_object *job, struct ctl_err *e)
{
	const char *id = ctl_json_str(job, "InstanceID");
	json_object *old;
	uint64_t ev;
	int dfd, err;

	dfd = ctl_open_dir(s->jobs, id);
	if (dfd < 0)
		return ctl_fail(e, ctl_rv_from_errno(dfd), "job %s: %s", id, strerror(-dfd));
	old = stored_record(dfd, "job.json");
	err = ctl_journal_job(s, old, job, &ev);
	if (err < 0) {
		close(dfd);
		json_object_put(old);
		return ctl_fail(e, ctl_rv_from_errno(err), "job %s: journaling the change: %s", id,
				ctl_journal_strerror(err));
	}
	err = ctl_write_json(dfd, "job.json", job);
	if (err < 0 && ev) {
		/* The journal said what the record does not hold: say what it does. */
		json_object *now = NULL;
		int rerr = ctl_read_json(dfd, "job.json", &now);
		if (rerr == 0 || rerr == -ENOENT)
			ctl_journal_job(s, job, now, NULL);
		json_object_put(now);
	}
	close(dfd);
	json_object_put(old);
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "writing job %s: %s", id,
				strerror(-err));
	return 0;
}

void ctl_job_set_state(json_object *job, uint32_t state)
{
	char ts[32];

	ctl_format_time(ctl_now(), ts);
	json_object_object_add(job, "JobState", json_object_new_int64(state));
	json_object_object_add(job, "TimeOfLastStateChange", json_object_new_string(ts));
	json_object_object_add(job, "Cancellable",
			       json_object_new_boolean(!ctl_job_state_final(state)));
}

void ctl_job_set_error(json_object *job, uint32_t code, const char *summary, const char *desc)
{
	json_object_object_add(job, "ErrorCode", json_object_new_int64(code));
	json_object_object_add(job, "ErrorSummaryDescription", json_object_new_string(summary));
	json_object_object_add(job, "ErrorDescription", json_object_new_string(desc));
}

void ctl_job_mark_vm_critical(struct ctl_store *s, const char *name, const char *id)
{
	json_object *vm = NULL;
	const char *cur;
	int fd = -1;

	if (ctl_vm_lock(s, name, &fd, NULL) || ctl_vm_load(s, name, &vm, NULL))
		goto out;
	cur = ctl_json_str(vm, "CurrentJob");
	if (cur && !strcmp(cur, id)) {
		ctl_vm_set_state(vm, ctl_json_u32(vm, "ReplicationState"), RESYNC_HEALTH_CRITICAL);
		ctl_vm_save(s, vm, NULL);
	}
out:
	ctl_unlock(fd);
	json_object_put(vm);
}

/* Called with the job's lock held, so no worker can be writing the record. */
static uint32_t record_vanished(struct ctl_store *s, const char *id, json_object **job,
				bool mark_vm, struct ctl_err *e)
{
	json_object *fresh;
	uint32_t rv = ctl_job_load(s, id, &fresh, e);
	char desc[160];

	if (rv)
		return rv;
	json_object_put(*job);
	*job = fresh;
	if (ctl_job_state_final(ctl_json_u32(fresh, "JobState")))
		return 0;
	snprintf(desc, sizeof(desc), "the worker (pid %u) ended without a result",
		 ctl_json_u32(fresh, "WorkerPid"));
	ctl_job_set_state(fresh, RESYNC_JOB_EXCEPTION);
	ctl_job_set_error(fresh, RESYNC_RV_STATUS_UNKNOWN, ctl_rv_text(RESYNC_RV_STATUS_UNKNOWN),
			  desc);
	rv = ctl_job_save(s, fresh, e);
	if (!rv && mark_vm)
		ctl_job_mark_vm_critical(s, ctl_json_str(fresh, "VirtualSystem"), id);
	return rv;
}

uint32_t ctl_job_reap(struct ctl_store *s, const char *id, json_object **job, bool mark_vm,
		      struct ctl_err *e)
{
	uint32_t rv = ctl_job_load(s, id, job, e);
	int dfd, fd;

	if (rv || ctl_job_state_final(ctl_json_u32(*job, "JobState")))
		return rv;
	dfd = ctl_open_dir(s->jobs, id);
	if (dfd < 0)
		return 0;
	if (ctl_lock(dfd, "lock", false, &fd) == 0) {
		rv = record_vanished(s, id, job, mark_vm, e);
		close(fd);
	}
	close(dfd);
	return rv;
}

uint32_t ctl_job_get(struct ctl_store *s, const char *id, json_object **job, struct ctl_err *e)
{
	return ctl_job_reap(s, id, job, true, e);
}

static int by_submit_time(const void *a, const void *b)
{
	json_object *ja = *(json_object *const *)a, *jb = *(json_object *const *)b;
	json_object *ta, *tb;
	int64_t x, y;

	json_object_object_get_ex(ja, "TimeSubmittedEpochNs", &ta);
	json_object_object_get_ex(jb, "TimeSubmittedEpochNs", &tb);
	x = json_object_get_int64(ta);
	y = json_object_get_int64(tb);
	return x < y ? -1 : x > y;
}

uint32_t ctl_job_list(struct ctl_store *s, const char *vm, json_object **jobs, struct ctl_err *e)
{
	int fd = openat(s->jobs, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	json_object *arr = json_object_new_array();

	*jobs = arr;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return ctl_fail(e, RESYNC_RV_FAILED, "listing jobs: %s", strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		json_object *job;
		if (!ctl_name_valid(de->d_name))
			continue;
		if (ctl_job_get(s, de->d_name, &job, NULL))
			continue;
		if (vm && strcmp(vm, ctl_json_str(job, "VirtualSystem") ?: "")) {
			json_object_put(job);
			continue;
		}
		json_object_array_add(arr, job);
	}
	closedir(d);
	json_object_array_sort(arr, by_submit_time);
	return 0;
}

/* Signals the job's worker, and only it.  A held lock does not prove the
 * worker lives (a reader reaping the job holds it too), so the process is
 * named by pid and start time: the pidfd pins one process, its start time
 * is read while the pidfd shows it still alive (so the pid was not yet
 * reused), and only a match with the start time the worker recorded is
 * signalled, through that pidfd.  -ESRCH when the worker is gone. */
static int signal_worker(struct ctl_store *s, const char *id, pid_t pid, long long start, int sig)
{
	int pfd = pidfd_open(pid, 0), err;
	long long now;

	if (pfd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	err = ctl_proc_start_time(pid, &now);
	if (!err && pidfd_send_signal(pfd, 0, NULL, 0) < 0)
		err = -errno;
	if (err < 0 || now != start || ctl_job_alive(s, id) != 1)
		err = -ESRCH;
	else if (pidfd_send_signal(pfd, sig, NULL, 0) < 0)
		err = -errno;
	close(pfd);
	return err;
}

/* Waits up to ~5 s for a signalled worker to let go of its lock. */
static int wait_for_exit(struct ctl_store *s, const char *id)
{
	for (int i = 0; i < 500; i++) {
		if (ctl_job_alive(s, id) != 1)
			return 0;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	return -ETIMEDOUT;
}

static uint32_t kill_job(struct ctl_store *s, const char *id, pid_t pid, long long start,
			 struct ctl_err *e)
{
	json_object *job = NULL;
	uint32_t rv;
	int dfd, fd = -1, err;

	err = signal_worker(s, id, pid, start, SIGKILL);
	if (err < 0 && err != -ESRCH)
		return ctl_fail(e, ctl_rv_from_errno(err), "kill %d: %s", (int)pid, strerror(-err));
	if (wait_for_exit(s, id) < 0)
		return ctl_fail(e, RESYNC_RV_TIMEOUT, "job %s: worker %d still holds its lock", id,
				(int)pid);
	dfd = ctl_open_dir(s->jobs, id);
	if (dfd < 0)
		return ctl_fail(e, ctl_rv_from_errno(dfd), "job %s: %s", id, strerror(-dfd));
	if (ctl_lock(dfd, "lock", false, &fd) < 0) {
		close(dfd);
		return ctl_fail(e, RESYNC_RV_IN_USE, "job %s: lock taken by another process", id);
	}
	rv = ctl_job_load(s, id, &job, e);
	if (!rv && !ctl_job_state_final(ctl_json_u32(job, "JobState"))) {
		ctl_job_set_state(job, RESYNC_JOB_KILLED);
		ctl_job_set_error(job, 0, "", "killed by request");
		rv = ctl_job_save(s, job, e);
		if (!rv)
			ctl_job_mark_vm_critical(s, ctl_json_str(job, "VirtualSystem"), id);
	}
	json_object_put(job);
	close(fd);
	close(dfd);
	return rv;
}

uint32_t ctl_job_request_state(struct ctl_store *s, const char *id, uint32_t requested,
			       struct ctl_err *e)
{
	json_object *job;
	uint32_t rv, state;
	long long start;
	pid_t pid;
	int sig;

	if (requested < RESYNC_REQUEST_START || requested > RESYNC_REQUEST_KILL)
		return ctl_fail(e, RESYNC_RSC_INVALID_PARAMETER,
				"RequestedState %u is not 2 Start, 3 Suspend, 4 Terminate or 5 Kill",
				requested);
	rv = ctl_job_get(s, id, &job, e);
	if (rv == RESYNC_RV_INVALID_PARAMETER)
		return RESYNC_RSC_INVALID_PARAMETER;
	if (rv)
		return rv;
	state = ctl_json_u32(job, "JobState");
	pid = (pid_t)ctl_json_u32(job, "WorkerPid");
	start = json_object_get_int64(json_object_object_get(job, "WorkerStartTime"));
	json_object_put(job);
	if (ctl_job_state_final(state) || pid <= 0)
		return ctl_fail(e, RESYNC_RSC_INVALID_TRANSITION, "job %s has ended (JobState %u)",
				id, state);
	switch (requested) {
	case RESYNC_REQUEST_START:
		if (state != RESYNC_JOB_SUSPENDED)
			return state == RESYNC_JOB_SHUTTING_DOWN ?
				       ctl_fail(e, RESYNC_RSC_INVALID_TRANSITION,
						"job %s is shutting down", id) :
				       RESYNC_RSC_COMPLETED;
		sig = SIGUSR2;
		break;
	case RESYNC_REQUEST_SUSPEND:
		if (state == RESYNC_JOB_SUSPENDED)
			return RESYNC_RSC_COMPLETED;
		if (state == RESYNC_JOB_SHUTTING_DOWN)
			return ctl_fail(e, RESYNC_RSC_INVALID_TRANSITION, "job %s is shutting down",
					id);
		sig = SIGUSR1;
		break;
	case RESYNC_REQUEST_TERMINATE:
		if (state == RESYNC_JOB_SHUTTING_DOWN)
			return RESYNC_RSC_STARTED;
		sig = SIGTERM;
		break;
	default:
		return kill_job(s, id, pid, start, e);
	}
	if (signal_worker(s, id, pid, start, sig) < 0)
		return ctl_fail(e, RESYNC_RSC_INVALID_TRANSITION, "job %s: worker %d is gone", id,
				(int)pid);
	return RESYNC_RSC_STARTED;
}

uint32_t ctl_job_remove(struct ctl_store *s, const char *id, struct ctl_err *e)
{
	json_object *job;
	uint32_t rv = ctl_job_get(s, id, &job, e);
	int err;

	if (rv == RESYNC_RV_STATUS_UNKNOWN && ctl_job_alive(s, id) != 1)
		rv = 0;
	else if (!rv && !ctl_job_state_final(ctl_json_u32(job, "JobState")))
		rv = ctl_fail(e, RESYNC_RV_IN_USE, "job %s is still running", id);
	if (rv) {
		json_object_put(job);
		return rv;
	}
	err = ctl_journal_job(s, job, NULL, NULL);
	if (!err)
		err = ctl_remove_dir(s->jobs, id);
	json_object_put(job);
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "removing job %s: %s", id,
				strerror(-err));
	return 0;
}

int ctl_job_discard(struct ctl_store *s, const char *id)
{
	json_object *job = NULL;
	int dfd = ctl_open_dir(s->jobs, id), err = 0;

	if (dfd >= 0 && ctl_read_json(dfd, "job.json", &job) == 0)
		err = ctl_journal_job(s, job, NULL, NULL);
	if (dfd >= 0)
		close(dfd);
	json_object_put(job);
	return err < 0 ? err : ctl_remove_dir(s->jobs, id);
}
