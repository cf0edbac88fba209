/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets, made here and handed to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET), so socket activation can hand over its own
 * descriptors instead.  Functions return a listening fd or a negative
 * errno with the failing step in why.
 */
#ifndef RESYNCD_LISTEN_H
#define RESYNCD_LISTEN_H

#include <stddef.h>

/* A Unix stream socket at path: its directory made (0755) when missing, a
 * stale socket replaced, the socket's mode mode (0660 by default) and,
 * when gid >= 0, group gid, so the operator group can connect and others
 * cannot unless the mode lets them. */
int rd_listen_unix(const char *path, unsigned mode, long gid, char *why, size_t n);
/* A TCP socket on "HOST:PORT" ("[v6]:PORT" for IPv6). */
int rd_listen_tcp(const char *hostport, char *why, size_t n);
/* The sockets systemd passed (LISTEN_FDS, socket activation): at most one
 * listening Unix stream socket into *unix_fd and one TCP socket into
 * *tcp_fd, -1 for none.  Returns how many were passed (0: not activated),
 * or -EINVAL for a descriptor of another kind. */
int rd_listen_activated(int *unix_fd, int *tcp_fd, char *why, size_t n);

#endif
