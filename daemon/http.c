/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue (http.h): the access handler collects the body, asks
 * the router, and queues the reply; a completion callback frees what a
 * request held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "resync/return_codes.h"
#include "auth.h"
#include "events.h"
#include "job_unit.h"
#include "json_reply.h"
#include "resources.h"
#include "route.h"
#include "tls_auth.h"

struct conn_ctx {
	struct rd_daemon *d;
	bool local;
};

/* One request's state across the access handler's calls. */
struct req {
	char *body;
	size_t len, cap;
	size_t drained; /* bytes of body seen, kept or not */
	bool too_big;
};

static struct conn_ctx ctx_local, ctx_tcp;

/* Bodies up to this many times the limit are drained before the 413. */
#define DRAIN_FACTOR 64

static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct rd_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *text;
	char *owned = r->text;

	if (!owned) {
		text = json_object_to_json_string_ext(r->body,
						      JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
		owned = malloc(strlen(text) + 2);
		if (owned)
			sprintf(owned, "%s\n", text);
	}
	if (!owned)
		return MHD_NO;
	r->text = NULL;
	resp = MHD_create_response_from_buffer(strlen(owned), owned, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(owned);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->content_type ? r->content_type : "application/json");
	if (r->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Queues r and releases what it holds (its body and text), sent or not:
 * every reply leaves through here. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, struct rd_reply *r)
{
	enum MHD_Result ret = queue_reply(conn, r);

	json_object_put(r->body);
	r->body = NULL;
	free(r->text);
	r->text = NULL;
	return ret;
}

static void log_call(const struct rd_caller *c, const char *method, const char *url,
		     const struct rd_reply *r)
{
	if (c->local)
		rd_log("call uid=%ld pid=%ld %s %s -> %u ReturnValue=%u", (long)(int)c->uid,
		       (long)c->pid, method, url, r->status, r->rv);
	else
		rd_log("call tcp subject=\"%s\" %s %s -> %u ReturnValue=%u",
		       c->subject[0] ? c->subject : "(no TLS)", method, url, r->status, r->rv);
}

static void too_big(struct rd_daemon *d, struct rd_reply *r)
{
	rd_reply_status(r, 413, RESYNC_RV_INVALID_PARAMETER,
			"request body larger than the limit of %zu bytes", d->cfg.body_limit);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct conn_ctx *cc = cls;
	struct rd_daemon *d = cc->d;
	struct rd_reply r = { .status = 500 };
	struct rd_caller caller;
	struct rd_request q;
	struct req *rq = *con_cls;
	enum MHD_Result ret;

	if (!rq) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		/* A caller that may not call this method is answered before a
		 * byte of its body is read: the router gives the 404, 405 or
		 * 403 it would give after it, and never reaches a handler. */
		rd_caller_identify(d, conn, cc->local, &caller);
		if (!rd_allowed(&caller, method)) {
			q = (struct rd_request){
				.method = method, .path = url, .body = "", .caller = &caller
			};
			rd_route(d, &q, &r);
			log_call(&caller, method, url, &r);
			rd_metrics_count(r.rv);
			return send_reply(conn, &r);
		}
		/* A body somewhat over the limit is read and dropped, so a
		 * client that writes all of it before reading (Python's
		 * http.client) gets its 413; a far larger one is refused
		 * before a byte of it is read, and the connection closed. */
		if (cl && strtoull(cl, NULL, 10) / DRAIN_FACTOR > d->cfg.body_limit) {
			too_big(d, &r);
			rq->too_big = true;
			log_call(&caller, method, url, &r);
			return send_reply(conn, &r);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big && rq->len + *upload_size > d->cfg.body_limit)
			rq->too_big = true;
		rq->drained += *upload_size;
		if (rq->drained / DRAIN_FACTOR > d->cfg.body_limit)
			return MHD_NO;
		if (!rq->too_big) {
			if (rq->len + *upload_size + 1 > rq->cap) {
				size_t cap = (rq->len + *upload_size + 1) * 2;
				char *nb = realloc(rq->body, cap);
				if (!nb)
					return MHD_NO;
				rq->body = nb;
				rq->cap = cap;
			}
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	rd_caller_identify(d, conn, cc->local, &caller);
	if (rq->too_big) {
		too_big(d, &r);
	} else {
		q = (struct rd_request){
			.method = method,
			.path = url,
			.body = rq->body ? rq->body : "",
			.body_len = rq->len,
			.query_vm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vm"),
			.caller = &caller,
		};
		rd_route(d, &q, &r);
		if (r.stream) {
			struct MHD_Response *resp = rd_events_response(d, conn, &r);
			if (resp) {
				ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
				MHD_destroy_response(resp);
				return ret;
			}
		}
		if (d->cfg.job_units && r.rv == RESYNC_RV_JOB_STARTED &&
		    !strncmp(r.location, "/v1/jobs/", 9))
			rd_job_unit_adopt(d, r.location + 9);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) || r.status == 403 || r.status == 503) {
		log_call(&caller, method, url, &r);
		rd_metrics_count(r.rv);
	}
	return send_reply(conn, &r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	if (rq) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	rd_log("libmicrohttpd: %s", buf);
}

struct MHD_Daemon *rd_http_start(struct rd_daemon *d, int fd, bool local, const char *tls_cert,
				 const char *tls_key)
{
	struct conn_ctx *cc = local ? &ctx_local : &ctx_tcp;
	/* ITC: stopping wakes every pool thread, also one whose listening
	 * socket is out of its poll set because it is at its connection limit. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
		{ MHD_OPTION_LISTEN_SOCKET, fd, NULL },
		{ MHD_OPTION_THREAD_POOL_SIZE, d->cfg.threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, d->cfg.conn_limit, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, d->cfg.timeout_s, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL },
		{ tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)tls_cert },
		{ tls_key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)tls_key },
		{ tls_cert && d->tls_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0,
		  d->tls_ca_pem },
		{ tls_cert && d->tls_ca_pem ? MHD_OPTION_NOTIFY_CONNECTION : MHD_OPTION_END,
		  (intptr_t)rd_tls_notify_connection, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	cc->d = d;
	cc->local = local;
	if (tls_cert)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, cc, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
}
