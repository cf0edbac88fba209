/* SPDX-License-Identifier: MIT */
/* Path and method to handler (route.h). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "resync/return_codes.h"
#include "auth.h"
#include "json_reply.h"
#include "paths.h"
#include "resources.h"
#include "route.h"

enum need { NONE, VM, JOB };

/* A path pattern's segments; "*" matches one segment, handed to the
 * handler as an argument in order. */
struct route {
	const char *method;
	const char *pattern;
	enum need need;
	int kind;
};

enum {
	VM_LIST,
	VM_ADD,
	VM_SHOW,
	VM_REMOVE,
	VM_FAILOVER,
	VM_FAILBACK,
	RP_LIST,
	RP_ADD,
	RP_SHOW,
	RP_REMOVE,
	JOB_LIST,
	JOB_SHOW,
	JOB_RSC,
	JOB_REMOVE,
	METRICS,
	EVENTS,
};

static const struct route routes[] = {
	{ "GET", "/v1/vms", NONE, VM_LIST },
	{ "POST", "/v1/vms", NONE, VM_ADD },
	{ "GET", "/v1/vms/*", VM, VM_SHOW },
	{ "DELETE", "/v1/vms/*", VM, VM_REMOVE },
	{ "POST", "/v1/vms/*/failover", VM, VM_FAILOVER },
	{ "POST", "/v1/vms/*/failback", VM, VM_FAILBACK },
	{ "GET", "/v1/vms/*/recovery-points", VM, RP_LIST },
	{ "POST", "/v1/vms/*/recovery-points", VM, RP_ADD },
	{ "GET", "/v1/vms/*/recovery-points/*", VM, RP_SHOW },
	{ "DELETE", "/v1/vms/*/recovery-points/*", VM, RP_REMOVE },
	{ "GET", "/v1/jobs", NONE, JOB_LIST },
	{ "GET", "/v1/jobs/*", JOB, JOB_SHOW },
	{ "DELETE", "/v1/jobs/*", JOB, JOB_REMOVE },
	{ "POST", "/v1/jobs/*/RequestStateChange", JOB, JOB_RSC },
	{ "GET", "/metrics", NONE, METRICS },
	{ "GET", "/v1/events", NONE, EVENTS },
};

#define MAX_ARGS 2

/* Whether path matches pattern; the "*" segments go to args. */
static bool match(const char *pattern, const char *path, char args[MAX_ARGS][CTL_NAME_MAX + 1])
{
	int n = 0;

	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");
			if (len == 0 || len > CTL_NAME_MAX || n == MAX_ARGS)
				return false;
			memcpy(args[n], path, len);
			args[n++][len] = '\0';
			path += len;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

static bool exists(int dirfd, const char *name, const char *suffix)
{
	char file[CTL_NAME_MAX + 16];

	if (!ctl_name_valid(name))
		return false;
	snprintf(file, sizeof(file), "%s%s", name, suffix);
	return faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void dispatch(struct rd_daemon *d, const struct rd_request *q, int kind,
		     char args[MAX_ARGS][CTL_NAME_MAX + 1], struct rd_reply *r)
{
	switch (kind) {
	case VM_LIST:
		return rd_vm_list(d, q, r);
	case VM_ADD:
		return rd_vm_add(d, q, r);
	case VM_SHOW:
		return rd_vm_show(d, q, args[0], r);
	case VM_REMOVE:
		return rd_vm_remove(d, q, args[0], r);
	case VM_FAILOVER:
		return rd_vm_failover(d, q, args[0], r);
	case VM_FAILBACK:
		return rd_vm_failback(d, q, args[0], r);
	case RP_LIST:
		return rd_rp_list(d, q, args[0], r);
	case RP_ADD:
		return rd_rp_add(d, q, args[0], r);
	case RP_SHOW:
		return rd_rp_show(d, q, args[0], args[1], r);
	case RP_REMOVE:
		return rd_rp_remove(d, q, args[0], args[1], r);
	case JOB_LIST:
		return rd_job_list(d, q, r);
	case JOB_SHOW:
		return rd_job_show(d, q, args[0], r);
	case JOB_RSC:
		return rd_job_request_state(d, q, args[0], r);
	case JOB_REMOVE:
		return rd_job_remove(d, q, args[0], r);
	case EVENTS:
		/* http.c answers with the stream (events.h). */
		r->stream = true;
		return;
	default:
		return rd_metrics(d, q, r);
	}
}

void rd_route(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r)
{
	char args[MAX_ARGS][CTL_NAME_MAX + 1];
	const struct route *hit = NULL;
	bool path_known = false;
	char allowed[64] = "";

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!match(routes[i].pattern, q->path, args))
			continue;
		path_known = true;
		snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
			 allowed[0] ? ", " : "", routes[i].method);
		if (!strcmp(routes[i].method, q->method))
			hit = &routes[i];
	}
	if (!path_known)
		return rd_reply_status(r, 404, RESYNC_RV_INVALID_PARAMETER, "no resource %s",
				       q->path);
	if (!hit) {
		snprintf(r->allow, sizeof(r->allow), "%s", allowed);
		return rd_reply_status(r, 405, RESYNC_RV_NOT_SUPPORTED, "%s %s: use %s", q->method,
				       q->path, allowed);
	}
	if (!rd_allowed(q->caller, q->method) && q->caller->subject[0])
		return rd_reply_status(r, 403, RESYNC_RV_ACCESS_DENIED,
				       "access denied: certificate \"%s\" may not call %s %s",
				       q->caller->subject, q->method, q->path);
	if (!rd_allowed(q->caller, q->method))
		return rd_reply_status(r, 403, RESYNC_RV_ACCESS_DENIED,
				       "access denied: uid %ld may not call %s %s",
				       (long)(int)q->caller->uid, q->method, q->path);
	if (hit->need == VM && !exists(d->store.vms, args[0], ".json"))
		return rd_reply_status(r, 404, RESYNC_RV_INVALID_PARAMETER, "unknown VM \"%s\"",
				       args[0]);
	if (hit->need == JOB && !exists(d->store.jobs, args[0], "/job.json"))
		return rd_reply_status(r, 404,
				       hit->kind == JOB_RSC ? RESYNC_RSC_INVALID_PARAMETER :
							      RESYNC_RV_INVALID_PARAMETER,
				       "unknown job \"%s\"", args[0]);
	if (hit->kind == VM_ADD || hit->kind == RP_ADD || hit->kind == VM_FAILBACK) {
		json_object *body = hit->kind == VM_FAILBACK ? NULL : json_tokener_parse(q->body);
		bool ok = rd_paths_check(d, body, hit->kind == VM_FAILBACK ? args[0] : NULL, r);
		json_object_put(body);
		if (!ok)
			return;
	}
	dispatch(d, q, hit->kind, args, r);
}
