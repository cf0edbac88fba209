/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the store's durability tests: logs every mkdir,
 * rename and fsync of directories, with paths resolved through
 * /proc/self/fd, one line each to $STORE_TRACE_LOG ("mkdir PATH",
 * "rename OLD NEW", "fsync PATH"), then does the real call.  Lines are
 * appended with O_APPEND, so a CLI and its worker share the log in order.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fd_path(int fd, char *buf, size_t n)
{
	char link[64];
	ssize_t k;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	k = readlink(link, buf, n - 1);
	buf[k < 0 ? 0 : k] = '\0';
}

static void at_path(int dirfd, const char *name, char *buf, size_t n)
{
	char dir[PATH_MAX];

	if (name[0] == '/' || dirfd == AT_FDCWD) {
		snprintf(buf, n, "%s", name);
		return;
	}
	fd_path(dirfd, dir, sizeof(dir));
	snprintf(buf, n, "%s/%s", dir, name);
}

static void logf_(const char *fmt, ...)
{
	const char *log = getenv("STORE_TRACE_LOG");
	char line[3 * PATH_MAX];
	va_list ap;
	int fd, len;

	if (!log)
		return;
	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0 || len >= (int)sizeof(line) - 1)
		return;
	line[len++] = '\n';
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)len) < 0)
			abort();
		close(fd);
	}
}

int mkdirat(int dirfd, const char *name, mode_t mode)
{
	int (*real)(int, const char *, mode_t) =
		(int (*)(int, const char *, mode_t))dlsym(RTLD_NEXT, "mkdirat");
	char p[2 * PATH_MAX];
	int r = real(dirfd, name, mode);

	if (r == 0) {
		at_path(dirfd, name, p, sizeof(p));
		logf_("mkdir %s", p);
	}
	return r;
}

int renameat(int od, const char *o, int nd, const char *n)
{
	int (*real)(int, const char *, int, const char *) =
		(int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	char a[2 * PATH_MAX], b[2 * PATH_MAX];
	int r = real(od, o, nd, n);

	if (r == 0) {
		at_path(od, o, a, sizeof(a));
		at_path(nd, n, b, sizeof(b));
		logf_("rename %s %s", a, b);
	}
	return r;
}

int renameat2(int od, const char *o, int nd, const char *n, unsigned flags)
{
	int (*real)(int, const char *, int, const char *, unsigned) =
		(int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT,
									       "renameat2");
	char a[2 * PATH_MAX], b[2 * PATH_MAX];
	int r = real(od, o, nd, n, flags);

	if (r == 0) {
		at_path(od, o, a, sizeof(a));
		at_path(nd, n, b, sizeof(b));
		logf_("rename %s %s", a, b);
	}
	return r;
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	struct stat st;
	char p[PATH_MAX];
	int r = real(fd);

	if (r == 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		fd_path(fd, p, sizeof(p));
		logf_("fsync %s", p);
	}
	return r;
}
