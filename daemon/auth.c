/* SPDX-License-Identifier: MIT */
/* Peer credentials to roles (auth.h). */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>
#include "auth.h"
#include "tls_auth.h"

long rd_group_parse(const char *name)
{
	struct group gr, *res = NULL;
	char buf[4096], *end;
	long v;

	if (!name || !*name)
		return -1;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res)
		return (long)res->gr_gid;
	v = strtol(name, &end, 10);
	return *end || v < 0 ? -1 : v;
}

/* Whether uid (whose primary group is gid) is a member of group og. */
static bool member(uid_t uid, gid_t gid, long og)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (og < 0)
		return false;
	if ((long)gid == og)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res)
		return false;
	if (getgrouplist(res->pw_name, res->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if ((long)groups[i] == og)
			return true;
	return false;
}

void rd_caller_identify(const struct rd_daemon *d, struct MHD_Connection *conn, bool local,
			struct rd_caller *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	*c = (struct rd_caller){ .local = local, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	if (local && ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		if (cred.uid == 0 || member(cred.uid, cred.gid, d->operator_gid))
			c->role = RD_ROLE_OPERATOR;
		else
			c->role = d->cfg.refuse_readers ? RD_ROLE_NONE : RD_ROLE_READER;
		return;
	}
	if (!local && rd_tls_identify(d, conn, c))
		return;
	/* A TCP caller no certificate names is anyone on the network: it may
	 * read only when that was asked for. */
	c->role = !local && d->cfg.tcp_anonymous_readers && !d->cfg.refuse_readers ?
			  RD_ROLE_READER :
			  RD_ROLE_NONE;
}

bool rd_allowed(const struct rd_caller *c, const char *method)
{
	if (c->role == RD_ROLE_OPERATOR)
		return true;
	return c->role == RD_ROLE_READER &&
	       (!strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD));
}
