/* SPDX-License-Identifier: MIT */
/* The state directory: see store.h. */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "durable.h"
#include "journal.h"
#include "json_get.h"
#include "store.h"

const char *ctl_store_default_path(void)
{
	const char *env = getenv("RESYNC_STATE_DIR");

	return env && *env ? env : CTL_DEFAULT_STATE_DIR;
}

bool ctl_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || name[0] == '.' || name[0] == '-' || name[0] == '\0')
		return false;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n <= CTL_NAME_MAX;
}

/* $RESYNC_OPERATOR_GROUP as a gid: a group name, else a number; -1 when
 * unset or naming no group. */
static long operator_gid(void)
{
	/* The answer for the variable's string, kept: every store write and
	 * trust check asks, and in resyncd they run on the server threads,
	 * which must not share getgrnam's static result (the daemon's first
	 * ctl_store_open, before its threads start, fills the cache).  A
	 * changed variable is a new string, so it is looked up again. */
	static const char *_Atomic cached_env;
	static _Atomic long cached_gid = -1;
	const char *g = getenv("RESYNC_OPERATOR_GROUP");
	struct group grb, *gr = NULL;
	char buf[4096];
	unsigned long v;
	char *end;
	long gid;

	if (!g || !*g)
		return -1;
	if (atomic_load(&cached_env) == g)
		return atomic_load(&cached_gid);
	if (getgrnam_r(g, &grb, buf, sizeof(buf), &gr))
		gr = NULL;
	v = strtoul(g, &end, 10);
	gid = gr ? (long)gr->gr_gid : *end || v >= (gid_t)-1 ? -1 : (long)v;
	atomic_store(&cached_gid, gid);
	atomic_store(&cached_env, g);
	return gid;
}

mode_t ctl_create_mode(mode_t mode)
{
	return operator_gid() >= 0 ? mode | ((mode & 0700) >> 3) : mode;
}

/* Whether uid's primary or a supplementary group is gid.  Reentrant
 * lookups into local buffers: resyncd's pool threads check records and
 * journal segments concurrently, and getpwuid/getgrgid's static results
 * would answer one thread with another's user. */
static bool is_group_member(uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res)
		return false;
	if (res->pw_gid == gid)
		return true;
	if (getgrouplist(res->pw_name, res->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

int ctl_trust_stat(const struct stat *st, char *why, size_t n)
{
	long og = operator_gid();
	bool opgroup = og >= 0 && st->st_gid == (gid_t)og;
	unsigned mode = st->st_mode & 07777;
	uid_t me = geteuid();

	if (st->st_uid != me && st->st_uid != 0 &&
	    !(opgroup && is_group_member(st->st_uid, st->st_gid))) {
		snprintf(why, n, "owned by uid %u, neither you (uid %u) nor root%s",
			 (unsigned)st->st_uid, (unsigned)me,
			 og >= 0 ? " nor a member of the operator group" : "");
		return -EPERM;
	}
	if (mode & S_IWOTH) {
		snprintf(why, n, "writable by others (mode %04o)", mode);
		return -EPERM;
	}
	if ((mode & S_IWGRP) && !opgroup) {
		if (og < 0)
			snprintf(why, n,
				 "group-writable (mode %04o) and no operator group is set "
				 "(RESYNC_OPERATOR_GROUP)",
				 mode);
		else
			snprintf(why, n,
				 "group-writable (mode %04o) by gid %u, not the operator group %ld",
				 mode, (unsigned)st->st_gid, og);
		return -EPERM;
	}
	return 0;
}

void ctl_untrusted_reason(int dirfd, const char *name, char *why, size_t n)
{
	struct stat st;
	bool self = !name || !*name;

	why[0] = '\0';
	if (fstatat(dirfd, self ? "" : name, &st,
		    AT_SYMLINK_NOFOLLOW | (self ? AT_EMPTY_PATH : 0)) == 0)
		ctl_trust_stat(&st, why, n);
}

/* Opened O_NOFOLLOW, so st is what will be read, not what a path named. */
static int trust_fd(int fd)
{
	struct stat st;
	char why[160];

	if (fstat(fd, &st) < 0)
		return -errno;
	return ctl_trust_stat(&st, why, sizeof(why));
}

/* mkdir -p; a component that exists is fine even on a read-only mount, where
 * mkdir may answer EROFS rather than EEXIST. */
static int mkdir_p(const char *path)
{
	char buf[4096];
	struct stat st;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, ctl_create_mode(0700)) < 0 && errno != EEXIST &&
		    !(stat(buf, &st) == 0 && S_ISDIR(st.st_mode)))
			return -errno;
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

int ctl_mkdir(int dirfd, const char *name)
{
	struct stat st;

	int err;

	if (mkdirat(dirfd, name, ctl_create_mode(0700)) == 0)
		return fsync(dirfd) < 0 ? -errno : 0;
	err = errno;
	if (err == EEXIST ||
	    (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)))
		return -EEXIST;
	return -err;
}

int ctl_open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = trust_fd(fd);
	if (err < 0) {
		close(fd);
		return err;
	}
	return fd;
}

int ctl_store_open(struct ctl_store *s, const char *path)
{
	int err;

	char why[256];

	s->root = s->vms = s->jobs = -1;
	s->why[0] = '\0';
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	strcpy(s->path, path);
	err = mkdir_p(path);
	if (err < 0)
		return err;
	s->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root < 0)
		return -errno;
	/* Checked before anything is created inside. */
	ctl_untrusted_reason(s->root, NULL, why, sizeof(why));
	if (why[0]) {
		snprintf(s->why, sizeof(s->why), "%s is %s", path, why);
		err = -EPERM;
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		const char *sub = i ? "jobs" : "vms";
		err = ctl_mkdir(s->root, sub);
		if (err < 0 && err != -EEXIST)
			goto fail;
		err = ctl_open_dir(s->root, sub);
		if (err == -EPERM) {
			ctl_untrusted_reason(s->root, sub, why, sizeof(why));
			snprintf(s->why, sizeof(s->why), "%s/%s is %s", path, sub, why);
		}
		if (err < 0)
			goto fail;
		*(i ? &s->jobs : &s->vms) = err;
	}
	ctl_store_sweep(s);
	return 0;
fail:
	ctl_store_close(s);
	return err;
}

void ctl_store_close(struct ctl_store *s)
{
	int *fds[] = { &s->root, &s->vms, &s->jobs };

	for (size_t i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int ctl_read_json(int dirfd, const char *name, json_object **out)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, err = 0;

	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EBADMSG;
		goto out;
	}
	err = trust_fd(fd);
	if (err < 0)
		goto out;
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	{
		json_tokener *tok = json_tokener_new();
		json_object *obj;

		if (!tok) {
			err = -ENOMEM;
			goto out;
		}
		obj = json_tokener_parse_ex(tok, buf, (int)len);
		if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
		    !json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			err = -EBADMSG;
		} else {
			*out = obj;
		}
		json_tokener_free(tok);
	}
out:
	free(buf);
	close(fd);
	return err;
}

int ctl_write_json(int dirfd, const char *name, json_object *obj)
{
	const char *text =
		json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	struct iovec iov[2] = {
		{ (void *)text, strlen(text) },
		{ (void *)"\n", 1 },
	};
	return rc_write_durable(dirfd, name, iov, 2, ctl_create_mode(0600));
}

static int open_lock(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			ctl_create_mode(0600));

	/* An existing lock file still locks on a read-only store. */
	if (fd < 0 && (errno == EROFS || errno == EACCES))
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int ctl_lock(int dirfd, const char *name, bool wait, int *fdp)
{
	int fd = open_lock(dirfd, name);

	if (fd < 0)
		return fd;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		close(fd);
		return -err;
	}
	*fdp = fd;
	return 0;
}

int ctl_lock_held(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int held;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int ctl_unlink(int dirfd, const char *name)
{
	return rc_remove_durable(dirfd, name);
}

int ctl_remove_dir(int dirfd, const char *name)
{
	int fd = ctl_open_dir(dirfd, name);
	DIR *d;
	struct dirent *de;
	int err = 0;

	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(d);
	if (!err && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		err = -errno;
	if (!err && fsync(dirfd) < 0)
		err = -errno;
	return err;
}

/* DT_REG, DT_DIR, ...: from readdir where the file system says, else lstat. */
static unsigned char entry_type(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

/* The PID in ".NAME.PID.tmp", or 0 when name is no such temporary. */
static pid_t tmp_owner(const char *name)
{
	size_t n = strlen(name);
	const char *end = name + n - 4, *p = end;

	if (n < 8 || name[0] != '.' || strcmp(end, ".tmp"))
		return 0;
	while (p > name + 1 && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == end || p[-1] != '.' || end - p > 9)
		return 0;
	return (pid_t)strtol(p, NULL, 10);
}

/* A temporary whose writer is dead is garbage: a live writer keeps its pid. */
static bool tmp_orphaned(const char *name)
{
	pid_t pid = tmp_owner(name);

	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

/* A new open file description, so reading it leaves dirfd's offset alone. */
static int reopen_dir(int dirfd)
{
	return openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void sweep_tmp(int dirfd)
{
	int fd = reopen_dir(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (entry_type(dirfd, de) == DT_REG && tmp_orphaned(de->d_name))
			ctl_unlink(dirfd, de->d_name);
	closedir(d);
}

/* The VM of job's newest journaled event ("" when none is kept): a creator
 * killed between its JobCreated and its record leaves nothing else that
 * names it. */
static void journaled_vm(struct ctl_store *s, const char *job, char vm[CTL_NAME_MAX + 1])
{
	json_object *evs = NULL, *v;
	uint64_t after = 0, oldest;
	int n;

	vm[0] = '\0';
	while ((n = ctl_journal_read(s, after, 1024, &evs, &oldest)) > 0) {
		for (int i = 0; i < n; i++) {
			json_object *ev = json_object_array_get_idx(evs, (size_t)i);
			const char *j = ctl_json_str(ev, "JobId"),
				   *m = ctl_json_str(ev, "VirtualSystem");
			if (j && m && !strcmp(j, job))
				snprintf(vm, CTL_NAME_MAX + 1, "%s", m);
			if (json_object_object_get_ex(ev, "Id", &v))
				after = (uint64_t)json_object_get_int64(v);
		}
		json_object_put(evs);
		evs = NULL;
	}
}

/* A job folder without job.json is a creation that died before its first
 * record (ctl_job_create() publishes folders with their lock held); its lock
 * free means nobody is still filling it.  Its creator may have journaled
 * JobCreated before it died: JobRemoved, with that event's VirtualSystem so
 * that a stream filtered by VM sees it, is journaled before the folder goes
 * (write-ahead, journal.h), and a failed append leaves the folder for the
 * next sweep. */
static void sweep_job(struct ctl_store *s, const char *name)
{
	int dfd = ctl_open_dir(s->jobs, name), lfd = -1;
	char vm[CTL_NAME_MAX + 1];

	if (dfd < 0)
		return;
	sweep_tmp(dfd);
	if (faccessat(dfd, "job.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
	    ctl_lock(dfd, "lock", false, &lfd) == 0 &&
	    faccessat(dfd, "job.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		json_object *stub = json_object_new_object();
		journaled_vm(s, name, vm);
		json_object_object_add(stub, "InstanceID", json_object_new_string(name));
		if (vm[0])
			json_object_object_add(stub, "VirtualSystem", json_object_new_string(vm));
		if (ctl_journal_job(s, stub, NULL, NULL) == 0)
			ctl_remove_dir(s->jobs, name);
		json_object_put(stub);
	}
	if (lfd >= 0)
		close(lfd);
	close(dfd);
}

void ctl_store_sweep(struct ctl_store *s)
{
	int fd = reopen_dir(s->jobs);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	sweep_tmp(s->vms);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (entry_type(s->jobs, de) != DT_DIR)
			continue;
		if (ctl_name_valid(de->d_name))
			sweep_job(s, de->d_name);
		else if (tmp_orphaned(de->d_name))
			ctl_remove_dir(s->jobs, de->d_name);
	}
	closedir(d);
}

long long ctl_now(void)
{
	return (long long)time(NULL);
}

void ctl_format_time(long long t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
