/* SPDX-License-Identifier: MIT */
/*
 * /v1/jobs: CIM_ConcreteJob records as resyncctl job show/list give them,
 * RequestStateChange and removal.
 */
#include <stdio.h>
#include <string.h>
#include "resync/return_codes.h"
#include "job.h"
#include "json_reply.h"
#include "resources.h"

void rd_job_list(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *jobs = NULL, *out = json_object_new_object();
	uint32_t rv = ctl_job_list(&d->store, q->query_vm, &jobs, &e);

	json_object_object_add(out, "Jobs", jobs ? jobs : json_object_new_array());
	rd_reply_rv(r, rv, out, &e);
}

void rd_job_show(struct rd_daemon *d, const struct rd_request *q, const char *id,
		 struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *job = NULL, *out = NULL;
	uint32_t rv = ctl_job_get(&d->store, id, &job, &e);

	if (!rv) {
		out = json_object_new_object();
		json_object_object_add(out, "Job", job);
	}
	rd_reply_rv(r, rv, out, &e);
}

/* RequestStateChange's own return values: 0 done, 4096 started, 4097
 * invalid transition (409), 5 invalid RequestedState (400). */
void rd_job_request_state(struct rd_daemon *d, const struct rd_request *q, const char *id,
			  struct rd_reply *r)
{
	static const char *const keys[] = { "RequestedState", NULL };
	struct ctl_err e = { "" };
	json_object *body = NULL, *st;
	uint32_t rv;
	int64_t v;

	rv = rd_body_object(q->body, q->body_len, &body, &e);
	if (!rv)
		rv = rd_known_keys(body, keys, &e);
	if (rv) {
		json_object_put(body);
		rd_reply_rv(r, rv, NULL, &e);
		return;
	}
	st = json_object_object_get(body, "RequestedState");
	if (!json_object_is_type(st, json_type_int)) {
		json_object_put(body);
		if (st)
			return rd_reply_status(r, 400, RESYNC_RV_INCORRECT_DATA_TYPE,
					       "RequestedState: not an integer");
		return rd_reply_status(r, 400, RESYNC_RV_INVALID_PARAMETER,
				       "RequestedState: missing");
	}
	v = json_object_get_int64(st);
	json_object_put(body);
	rv = ctl_job_request_state(&d->store, id,
				   v < 0 || v > UINT32_MAX ? UINT32_MAX : (uint32_t)v, &e);
	rd_reply_rv(r, rv, NULL, &e);
	if (rv == RESYNC_RSC_COMPLETED || rv == RESYNC_RSC_STARTED)
		json_object_object_add(r->body, "JobId", json_object_new_string(id));
	if (rv == RESYNC_RSC_INVALID_TRANSITION)
		r->status = 409;
	else if (rv == RESYNC_RSC_INVALID_PARAMETER)
		r->status = 400;
	if (rv != RESYNC_RSC_COMPLETED && rv != RESYNC_RSC_STARTED && !e.msg[0])
		json_object_object_add(r->body, "ErrorDescription",
				       json_object_new_string(ctl_rv_text(rv)));
}

void rd_job_remove(struct rd_daemon *d, const struct rd_request *q, const char *id,
		   struct rd_reply *r)
{
	struct ctl_err e = { "" };

	rd_reply_rv(r, ctl_job_remove(&d->store, id, &e), NULL, &e);
}
