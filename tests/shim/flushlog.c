/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the durability tests: logs, in call order, every
 * fdatasync/fsync (with the path of the descriptor), rename/renameat and
 * unlink/unlinkat (the *at forms with full paths) the process makes through
 * libc, one line each to $RESYNC_SHIM_LOG:
 *   fdatasync PATH inflight=N | fsync PATH inflight=N | rename OLD NEW |
 *   unlink PATH
 * then calls the real function.  A file target is flushed with fdatasync
 * and a checkpoint saved with rename, so the log shows whether every
 * checkpoint follows a flush of the target and whether the final flush
 * happens.  N counts the requests the process's io_uring had taken and not
 * yet completed to its user (SqHead - CqTail in /proc/self/fdinfo), so the
 * log also shows whether a flush waited for the pipeline to drain.
 *
 * With $RESYNC_SHIM_HOLD_PATH the first $RESYNC_SHIM_HOLD_CALLS (default 1)
 * fdatasync calls on that path are held until the process's io_uring took 4
 * more requests than at the call (10 s at most), as a slow disk's cache
 * flush would be, and logged as "held PATH submitted=N" before they flush:
 * N > 0 shows the copy submitting beside a flush.  Otherwise nothing is
 * changed: only observed.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void log_line(const char *op, const char *a, const char *b)
{
	const char *path = getenv("RESYNC_SHIM_LOG");
	if (!path)
		return;
	int saved = errno;
	char line[8192];
	int n = snprintf(line, sizeof line, "%s %s%s%s\n", op, a, b ? " " : "", b ? b : "");
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && n > 0) {
		/* One write per line: O_APPEND keeps lines whole across threads. */
		ssize_t w = write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		(void)w;
	}
	if (fd >= 0)
		close(fd);
	errno = saved;
}

/* Requests taken by the io_uring behind fd and not completed to its user
 * (head: all it ever took); -1 when fd is no io_uring. */
static long ring_inflight(int fd, long *head)
{
	char name[64], line[256];
	snprintf(name, sizeof name, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(name, "re");
	if (!f)
		return -1;
	long sq_head = -1, cq_tail = -1, v;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "SqHead: %ld", &v) == 1)
			sq_head = v;
		else if (sscanf(line, "CqTail: %ld", &v) == 1)
			cq_tail = v;
	}
	fclose(f);
	if (sq_head >= 0)
		*head += sq_head;
	return sq_head < 0 || cq_tail < 0 ? -1 : sq_head - cq_tail;
}

/* Over every io_uring the process holds; head: the requests they took. */
static long inflight(long *head)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char link[300], target[64];
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(link, target, sizeof target - 1);
		target[len < 0 ? 0 : len] = 0;
		long k = strcmp(target, "anon_inode:[io_uring]") ?
				 -1 :
				 ring_inflight(atoi(e->d_name), head);
		if (k > 0)
			n += k;
	}
	if (d)
		closedir(d);
	return n;
}

static void log_fd(const char *op, int fd)
{
	char link[64], path[4096], busy[32];
	int saved = errno;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	path[n < 0 ? 0 : n] = 0;
	long head = 0;
	snprintf(busy, sizeof busy, "inflight=%ld", inflight(&head));
	errno = saved;
	log_line(op, n < 0 ? "?" : path, busy);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static int held_calls;

/* Holds a flush of $RESYNC_SHIM_HOLD_PATH while the copy goes on (see top). */
static void hold(int fd)
{
	const char *want = getenv("RESYNC_SHIM_HOLD_PATH"),
		   *calls = getenv("RESYNC_SHIM_HOLD_CALLS");
	char link[64], path[4096];
	if (!want)
		return;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	path[n < 0 ? 0 : n] = 0;
	if (strcmp(path, want) ||
	    __atomic_fetch_add(&held_calls, 1, __ATOMIC_SEQ_CST) >= (calls ? atoi(calls) : 1))
		return;
	int saved = errno;
	long head0 = 0, head = 0;
	inflight(&head0);
	for (int ms = 0; ms < 10000 && head - head0 < 4; ms++) {
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		head = 0;
		inflight(&head);
	}
	char busy[32];
	snprintf(busy, sizeof busy, "submitted=%ld", head - head0);
	errno = saved;
	log_line("held", path, busy);
}

int fdatasync(int fd)
{
	hold(fd);
	log_fd("fdatasync", fd);
	return REAL(fdatasync)(fd);
}

int fsync(int fd)
{
	log_fd("fsync", fd);
	return REAL(fsync)(fd);
}

int rename(const char *oldpath, const char *newpath)
{
	log_line("rename", oldpath, newpath);
	return REAL(rename)(oldpath, newpath);
}

int unlink(const char *path)
{
	log_line("unlink", path, NULL);
	return REAL(unlink)(path);
}

/* dirfd/name as one path: the directory's from /proc/self/fd. */
static void at_path(int dirfd, const char *name, char *buf, size_t n)
{
	char link[64], dir[4096];
	ssize_t len = -1;
	if (name[0] != '/' && dirfd != AT_FDCWD) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		len = readlink(link, dir, sizeof dir - 1);
	}
	if (len < 0)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "%.*s/%s", (int)len, dir, name);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	char a[8192], b[8192];
	at_path(olddirfd, oldpath, a, sizeof a);
	at_path(newdirfd, newpath, b, sizeof b);
	log_line("rename", a, b);
	return REAL(renameat)(olddirfd, oldpath, newdirfd, newpath);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	char a[8192];
	at_path(dirfd, path, a, sizeof a);
	log_line("unlink", a, NULL);
	return REAL(unlinkat)(dirfd, path, flags);
}
