/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the durability tests: logs, in call order, every
 * fdatasync/fsync (with the path of the descriptor), rename/renameat and
 * unlink/unlinkat (the *at forms with full paths) the process makes through
 * libc, one line each to $RESYNC_SHIM_LOG:
 *   fdatasync PATH | fsync PATH | rename OLD NEW | unlink PATH
 * then calls the real function.  A file target is flushed with fdatasync
 * and a checkpoint saved with rename, so the log shows whether every
 * checkpoint follows a flush of the target and whether the final flush
 * happens.  Nothing is changed: only observed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void log_fd(const char *op, int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	path[n < 0 ? 0 : n] = 0;
	log_line(op, n < 0 ? "?" : path, NULL);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int fdatasync(int fd)
{
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
