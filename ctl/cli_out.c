/* SPDX-License-Identifier: MIT */
/* What every resyncctl command shares (cli.h): usage errors, human and JSON
 * output, names for numbers, and job wait with its progress bar.  Job wait
 * wakes when a record is renamed into the job's folder (inotify: every save
 * of the job record is a rename), so a caller learns of the end when it is
 * written rather than at the next poll.  The poll stays, every
 * WAIT_FALLBACK_MS, for what a watch cannot see (a file system without
 * inotify; a worker killed before it wrote its end, which only its lock
 * shows), and as the whole mechanism where no watch can be made. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "cli.h"
#include "clock.h"
#include "job.h"
#include "progress_bar.h"
#include "view.h"
#include "vm.h"

uint32_t cli_open(struct cli *c, struct ctl_err *e)
{
	int err;

	if (c->opened)
		return 0;
	err = ctl_store_open(&c->store, c->state_dir);
	if (err < 0 && c->store.why[0])
		return ctl_fail(e, RESYNC_RV_ACCESS_DENIED, "state store not trusted: %s",
				c->store.why);
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "state store %s: %s", c->state_dir,
				strerror(-err));
	c->opened = true;
	return 0;
}

void cli_close(struct cli *c)
{
	if (c->opened)
		ctl_store_close(&c->store);
	c->opened = false;
}

int cli_finish(struct cli *c, uint32_t rv, json_object *out, const struct ctl_err *e,
	       cli_human_fn human)
{
	bool ok = rv == RESYNC_RV_COMPLETED || rv == RESYNC_RV_JOB_STARTED;

	if (c->json) {
		json_object *o = ctl_view_reply(rv, out, e);
		printf("%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		if (!ok && e && e->msg[0])
			fprintf(stderr, "resyncctl: %s\n", e->msg);
		printf("ReturnValue: %u\n", rv);
		if (out && human)
			human(out);
	}
	json_object_put(out);
	fflush(stdout);
	return ctl_exit_status(rv);
}

int cli_usage(struct cli *c, const char *usage, const char *fmt, ...)
{
	struct ctl_err e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	if (!c->json)
		fprintf(stderr, "%s", usage);
	return cli_finish(c, RESYNC_RV_INVALID_PARAMETER, NULL, &e, NULL);
}

int cli_bad_option(struct cli *c, const char *usage, int o, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	int n = (int)strcspn(arg, "=");

	/* A short option may sit inside a cluster ("-xv"): name it alone. */
	if (strncmp(arg, "--", 2) && optopt > 0 && optopt < 128)
		return cli_usage(c, usage,
				 o == ':' ? "option \"-%c\" wants a value" :
					    "unknown option \"-%c\"",
				 optopt);
	if (o == ':')
		return cli_usage(c, usage, "option \"%.*s\" wants a value", n, arg);
	return cli_usage(c, usage, "unknown option \"%.*s\"", n, arg);
}

bool cli_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return true;
		}
	}
	return false;
}

int cli_abs_path(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, len, "%s", path);
	else
		n = snprintf(out, len, "%s/%s", cwd, path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *cli_state_name(uint32_t s)
{
	static const char *const names[] = {
		"Disabled",
		"Ready for replication",
		"Waiting to complete initial replication",
		"Replicating",
		"Synced replication complete",
		"Recovered",
		"Committed",
		"Suspended",
		"Critical",
		"Waiting to start resynchronization",
		"Resynchronizing",
		"Resynchronization suspended",
		"Failover in progress",
		"Failback in progress",
		"Failback complete",
	};
	if (s == RESYNC_STATE_WAITING_FOR_FAILBACK)
		return "WaitingForFailback";
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "Unknown";
}

const char *cli_mode_name(uint32_t m)
{
	static const char *const names[] = { "None", "Primary", "Replica", "Test replica",
					     "Extended replica" };
	return m < 5 ? names[m] : "Unknown";
}

const char *cli_health_name(uint32_t h)
{
	static const char *const names[] = { "Not applicable", "Ok", "Warning", "Critical" };
	return h < 4 ? names[h] : "Unknown";
}

const char *cli_job_state_name(uint32_t s)
{
	static const char *const names[] = {
		"",           "",          "New",           "Starting",
		"Running",    "Suspended", "Shutting down", "Completed",
		"Terminated", "Killed",    "Exception"
	};
	return s >= 2 && s <= 10 ? names[s] : "Unknown";
}

static int64_t jint(json_object *o, const char *k)
{
	return json_object_get_int64(json_object_object_get(o, k));
}

void cli_print_job(json_object *job)
{
	uint32_t st = (uint32_t)jint(job, "JobState");
	json_object *disks = json_object_object_get(job, "Disks");

	printf("InstanceID: %s\n", ctl_json_str(job, "InstanceID"));
	printf("JobType: %lld (Initiate failback)\n", (long long)jint(job, "JobType"));
	printf("JobState: %u (%s)\n", st, cli_job_state_name(st));
	printf("PercentComplete: %lld\n", (long long)jint(job, "PercentComplete"));
	printf("ErrorCode: %lld\n", (long long)jint(job, "ErrorCode"));
	printf("ErrorDescription: %s\n", ctl_json_str(job, "ErrorDescription") ?: "");
	printf("VirtualSystem: %s\n", ctl_json_str(job, "VirtualSystem"));
	printf("RecoveryPoint: %s\n", ctl_json_str(job, "RecoveryPoint"));
	printf("TimeSubmitted: %s\n", ctl_json_str(job, "TimeSubmitted"));
	printf("StartTime: %s\n", ctl_json_str(job, "StartTime") ?: "");
	printf("ElapsedTime: %s\n", ctl_json_str(job, "ElapsedTime") ?: "");
	printf("TimeOfLastStateChange: %s\n", ctl_json_str(job, "TimeOfLastStateChange"));
	printf("BytesToCopy: %lld\n", (long long)jint(job, "BytesToCopy"));
	printf("BytesCopied: %lld\n", (long long)jint(job, "BytesCopied"));
	printf("BytesWritten: %lld\n", (long long)jint(job, "BytesWritten"));
	printf("BytesZeroed: %lld\n", (long long)jint(job, "BytesZeroed"));
	printf("BytesSkippedEqual: %lld\n", (long long)jint(job, "BytesSkippedEqual"));
	printf("RateBytesPerSecond: %lld\n", (long long)jint(job, "RateBytesPerSecond"));
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		printf("Disk %s: %s -> %s, %s (%s), %lld/%lld bytes%s\n", ctl_json_str(d, "Name"),
		       ctl_json_str(d, "Source"), ctl_json_str(d, "Target"),
		       ctl_json_str(d, "ChangeSource"), ctl_json_str(d, "ChangeSourceReason"),
		       (long long)jint(d, "BytesCopied"), (long long)jint(d, "BytesToCopy"),
		       json_object_get_boolean(json_object_object_get(d, "Completed")) ?
			       ", completed" :
			       "");
		if (json_object_object_get(d, "RequestSize"))
			printf("  I/O: requests of %lld bytes at depth %lld: %s\n",
			       (long long)jint(d, "RequestSize"), (long long)jint(d, "QueueDepth"),
			       ctl_json_str(d, "IoChoice") ?: "");
	}
}

static void draw_bar(json_object *job)
{
	struct rc_progress p = {
		.fraction = (double)jint(job, "PercentComplete") / 100,
		.done = (uint64_t)jint(job, "BytesCopied"),
		.total = (uint64_t)jint(job, "BytesToCopy"),
		.rate = (double)jint(job, "RateBytesPerSecond"),
		.label = cli_job_state_name((uint32_t)jint(job, "JobState")),
	};

	rc_progress_draw(stderr, &p);
}

enum {
	WAIT_POLL_MS = 100,      /* no watch: today's poll */
	WAIT_FALLBACK_MS = 1000, /* a watch: the bound on a change it misses */
};

/* An inotify descriptor watching the job's folder, or -1 (then the caller
 * polls).  Only renames into it, and the folder's removal: not closes, since
 * this reader's own reap opens the job's lock for writing, and a close it
 * made would wake it again at once. */
static int watch_job(struct cli *c, const char *id)
{
	char path[64 + NAME_MAX];
	int fd;

	if (!ctl_name_valid(id) || snprintf(path, sizeof(path), "/proc/self/fd/%d/%s",
					    c->store.jobs, id) >= (int)sizeof(path))
		return -1;
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, path, IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sleeps until the watched folder changes, the poll interval passes or the
 * deadline comes, whichever is first; drains the events, since the caller
 * rereads the record whatever they were. */
static void wait_change(int ifd, int64_t deadline)
{
	int64_t left = deadline - rc_now_ms();
	int ms = ifd < 0 ? WAIT_POLL_MS : WAIT_FALLBACK_MS;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (left < ms)
		ms = left > 0 ? (int)left : 0;
	if (ifd < 0) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	if (poll(&(struct pollfd){ .fd = ifd, .events = POLLIN }, 1, ms) > 0)
		while (read(ifd, buf, sizeof(buf)) > 0)
			;
}

/* The worker renames its final record into place and then fsyncs the
 * folder; woken by the rename, this reader may see the record before that
 * fsync ends.  Syncing the folder itself first means the end it reports
 * survives a crash.  A file system that cannot sync a folder (EINVAL) or
 * a read-only one (nothing there is pending) has nothing to wait for. */
static int sync_job_dir(struct cli *c, const char *id)
{
	int dfd = ctl_open_dir(c->store.jobs, id), err = 0;

	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd; /* removed since: nothing to vouch for */
	if (fsync(dfd) < 0 && errno != EINVAL && errno != EROFS)
		err = -errno;
	close(dfd);
	return err;
}

uint32_t cli_wait_job(struct cli *c, const char *id, long long timeout_ms, json_object **job,
		      struct ctl_err *e)
{
	bool tty = isatty(STDERR_FILENO) && !c->json, drawn = false;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : rc_now_ms() + timeout_ms;
	int ifd = watch_job(c, id), err;
	uint32_t rv, st = 0;

	*job = NULL;
	for (;;) {
		json_object_put(*job);
		rv = ctl_job_get(&c->store, id, job, e);
		if (rv)
			break;
		st = (uint32_t)jint(*job, "JobState");
		if (tty) {
			draw_bar(*job);
			drawn = true;
		}
		if (ctl_job_state_final(st))
			break;
		if (rc_now_ms() >= deadline) {
			rv = ctl_fail(e, RESYNC_RV_TIMEOUT,
				      "job %s still running (JobState %u, %lld%%) after %lld s", id,
				      st, (long long)jint(*job, "PercentComplete"),
				      timeout_ms / 1000);
			break;
		}
		wait_change(ifd, deadline);
	}
	if (ifd >= 0)
		close(ifd);
	if (!rv && (err = sync_job_dir(c, id)) < 0)
		rv = ctl_fail(e, RESYNC_RV_STATUS_UNKNOWN, "job %s: syncing its folder: %s", id,
			      strerror(-err));
	if (drawn)
		fputc('\n', stderr);
	if (rv)
		return rv;
	if (st == RESYNC_JOB_COMPLETED)
		return RESYNC_RV_COMPLETED;
	rv = (uint32_t)jint(*job, "ErrorCode");
	return ctl_fail(e, rv ? rv : RESYNC_RV_FAILED, "job %s ended in JobState %u (%s)%s%s", id,
			st, cli_job_state_name(st),
			*(ctl_json_str(*job, "ErrorDescription") ?: "") ? ": " : "",
			ctl_json_str(*job, "ErrorDescription") ?: "");
}
