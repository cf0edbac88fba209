/* SPDX-License-Identifier: MIT */
/* The listening sockets (listen.h). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "listen.h"

static int fail(int err, char *why, size_t n, const char *step, const char *what)
{
	snprintf(why, n, "%s %s: %s", step, what, strerror(err));
	return -err;
}

int rd_listen_unix(const char *path, unsigned mode, long gid, char *why, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(ENAMETOOLONG, why, n, "socket path", path);
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return fail(errno, why, n, "mkdir", dir);
	}
	/* Only a socket is replaced: a regular file there is a mistake. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail(EEXIST, why, n, "not a socket:", path);
		if (unlink(path) < 0)
			return fail(errno, why, n, "unlink", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno, why, n, "socket", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
	    (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) < 0) || listen(fd, SOMAXCONN) < 0) {
		err = errno;
		close(fd);
		return fail(err, why, n, "bind/chmod/chown/listen", path);
	}
	return fd;
}

int rd_listen_tcp(const char *hostport, char *why, size_t n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256];
	const char *port, *h = hostport;
	size_t hl;
	int fd, err, one = 1;

	port = strrchr(hostport, ':');
	if (!port || !port[1])
		return fail(EINVAL, why, n, "--listen wants HOST:PORT, not", hostport);
	hl = (size_t)(port - hostport);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
		h++, hl -= 2;
	if (hl >= sizeof(host))
		return fail(ENAMETOOLONG, why, n, "--listen", hostport);
	memcpy(host, h, hl);
	host[hl] = '\0';
	err = getaddrinfo(hl ? host : NULL, port + 1, &hints, &res);
	if (err) {
		snprintf(why, n, "--listen %s: %s", hostport, gai_strerror(err));
		return -EINVAL;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		err = errno;
		freeaddrinfo(res);
		return fail(err, why, n, "socket", hostport);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		err = errno;
		close(fd);
		freeaddrinfo(res);
		return fail(err, why, n, "bind/listen", hostport);
	}
	freeaddrinfo(res);
	return fd;
}

int rd_listen_activated(int *unix_fd, int *tcp_fd, char *why, size_t n)
{
	/* Unsets LISTEN_FDS and LISTEN_PID: the job workers forked later
	 * must not take the sockets (marked close-on-exec here) as theirs. */
	int count = sd_listen_fds(1);

	*unix_fd = *tcp_fd = -1;
	if (count < 0)
		return fail(-count, why, n, "socket activation:", "LISTEN_FDS");
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + count; fd++) {
		int *slot = NULL;

		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
			slot = unix_fd;
		else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0)
			slot = tcp_fd;
		if (!slot || *slot >= 0) {
			snprintf(why, n,
				 "socket activation: fd %d is %s; resyncd takes one listening Unix "
				 "stream socket and one listening TCP socket",
				 fd,
				 slot ? "a second socket of its kind" :
					"not a listening stream socket");
			return -EINVAL;
		}
		*slot = fd;
	}
	return count;
}
