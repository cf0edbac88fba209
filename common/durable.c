/* SPDX-License-Identifier: MIT */
/* The durable replace and remove of durable.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "durable.h"

/* The directory holding name, opened (it is fsynced), and name's last
 * component in *base. */
static int open_parent(int dirfd, const char *name, const char **base)
{
	const char *slash = strrchr(name, '/');
	*base = slash ? slash + 1 : name;
	if (!**base)
		return -EISDIR;
	char dir[PATH_MAX];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == name)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - name) >= sizeof dir)
		return -ENAMETOOLONG;
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - name), name);
	int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_all(int fd, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			ssize_t n = write(fd, p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			p += n;
			left -= (size_t)n;
		}
	}
	return 0;
}

int rc_write_durable(int dirfd, const char *name, const struct iovec *iov, int iovcnt, mode_t mode)
{
	const char *base;
	int dfd = open_parent(dirfd, name, &base);
	if (dfd < 0)
		return dfd;
	char tmp[NAME_MAX + 1];
	if (snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", base, (long)getpid()) >= (int)sizeof tmp) {
		close(dfd);
		return -ENAMETOOLONG;
	}
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	int ret = fd < 0 ? -errno : 0;
	if (!ret)
		ret = write_all(fd, iov, iovcnt);
	if (!ret && fsync(fd))
		ret = -errno;
	if (fd >= 0 && close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(dfd, tmp, dfd, base))
		ret = -errno;
	if (ret && fd >= 0)
		unlinkat(dfd, tmp, 0);
	if (!ret && fsync(dfd))
		ret = -errno;
	close(dfd);
	return ret;
}

int rc_remove_durable(int dirfd, const char *name)
{
	const char *base;
	int dfd = open_parent(dirfd, name, &base);
	if (dfd < 0)
		return dfd;
	int ret = unlinkat(dfd, base, 0) && errno != ENOENT ? -errno : 0;
	if (!ret && fsync(dfd))
		ret = -errno;
	close(dfd);
	return ret;
}
