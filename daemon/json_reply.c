/* SPDX-License-Identifier: MIT */
/* Status mapping and JSON bodies of the API (json_reply.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "resync/return_codes.h"
#include "json_reply.h"
#include "view.h"

unsigned rd_status_for_rv(uint32_t rv)
{
	switch (rv) {
	case RESYNC_RV_COMPLETED:
		return 200;
	case RESYNC_RV_JOB_STARTED:
		return 202;
	case RESYNC_RV_ACCESS_DENIED:
		return 403;
	case RESYNC_RV_NOT_SUPPORTED:
	case RESYNC_RV_FILE_NOT_FOUND:
		return 422;
	case RESYNC_RV_TIMEOUT:
		return 504;
	case RESYNC_RV_INVALID_PARAMETER:
	case RESYNC_RV_INCORRECT_DATA_TYPE:
		return 400;
	case RESYNC_RV_IN_USE:
	case RESYNC_RV_INVALID_STATE:
		return 409;
	case RESYNC_RV_NOT_AVAILABLE:
	case RESYNC_RV_OUT_OF_MEMORY:
		return 503;
	default: /* 32768 failed, 32771 status unknown, anything else */
		return 500;
	}
}

void rd_reply_rv(struct rd_reply *r, uint32_t rv, json_object *out, const struct ctl_err *e)
{
	json_object *o = ctl_view_reply(rv, out, e);

	json_object_put(out);
	json_object_put(r->body);
	r->body = o;
	r->rv = rv;
	r->status = rd_status_for_rv(rv);
}

void rd_reply_status(struct rd_reply *r, unsigned status, uint32_t rv, const char *fmt, ...)
{
	struct ctl_err e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	rd_reply_rv(r, rv, NULL, &e);
	r->status = status;
}

uint32_t rd_body_object(const char *body, size_t len, json_object **out, struct ctl_err *e)
{
	json_tokener *tok;
	json_object *o;
	enum json_tokener_error err;
	size_t at;

	*out = NULL;
	if (len == strspn(body, " \t\r\n")) {
		*out = json_object_new_object();
		return 0;
	}
	if (strlen(body) != len)
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"request body: a NUL byte at offset %zu", strlen(body));
	tok = json_tokener_new();
	if (!tok)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	o = json_tokener_parse_ex(tok, body, (int)len);
	err = json_tokener_get_error(tok);
	at = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || err != json_tokener_success) {
		json_object_put(o);
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"request body is not JSON: %s at offset %zu",
				err == json_tokener_continue ? "unexpected end" :
							       json_tokener_error_desc(err),
				at);
	}
	if (at + strspn(body + at, " \t\r\n") != len) {
		json_object_put(o);
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"request body: text after the JSON value at offset %zu", at);
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"request body is JSON but not an object");
	}
	*out = o;
	return 0;
}

uint32_t rd_known_keys(json_object *o, const char *const *keys, struct ctl_err *e)
{
	json_object_object_foreach(o, k, v)
	{
		const char *const *p;
		(void)v;
		for (p = keys; *p && strcmp(*p, k); p++)
			;
		if (!*p)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "unknown key \"%s\"", k);
	}
	return 0;
}

uint32_t rd_disks_check(json_object *in, const char *const *keys, size_t required,
			struct ctl_err *e)
{
	uint32_t rv;

	if (!json_object_is_type(in, json_type_array))
		return ctl_fail(e, in ? RESYNC_RV_INCORRECT_DATA_TYPE : RESYNC_RV_INVALID_PARAMETER,
				"Disks: %s", in ? "not an array" : "missing");
	for (size_t i = 0; i < json_object_array_length(in); i++) {
		json_object *di = json_object_array_get_idx(in, i);
		if (!json_object_is_type(di, json_type_object))
			return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
					"Disks[%zu]: not an object", i);
		rv = rd_known_keys(di, keys, e);
		if (rv)
			return rv;
		for (size_t k = 0; k < required; k++)
			if (!json_object_object_get(di, keys[k]))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"Disks[%zu].%s: missing", i, keys[k]);
	}
	return 0;
}
