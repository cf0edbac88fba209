/* SPDX-License-Identifier: MIT */
/*
 * JSON helpers of the API: the HTTP status a ReturnValue maps to (the table
 * of doc/api.md), replies carrying a ReturnValue, and reading a request
 * body as a JSON object.
 */
#ifndef RESYNCD_JSON_REPLY_H
#define RESYNCD_JSON_REPLY_H

#include <stdint.h>
#include <json-c/json.h>
#include "daemon.h"
#include "errmap.h"

/* 200 for 0, 202 for 4096, 400/403/404/409/... for the others. */
unsigned rd_status_for_rv(uint32_t rv);
/* The reply {"ReturnValue": rv[, "ErrorDescription": e->msg], ...out}
 * (out taken over, may be NULL) with rd_status_for_rv's status. */
void rd_reply_rv(struct rd_reply *r, uint32_t rv, json_object *out, const struct ctl_err *e);
/* The same with an explicit status (404, 405, 413, ...). */
void rd_reply_status(struct rd_reply *r, unsigned status, uint32_t rv, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Parses body as one JSON object: 0, or 32776 (not JSON, or not an
 * object) with the reason and position in e.  An empty body is {}. */
uint32_t rd_body_object(const char *body, size_t len, json_object **out, struct ctl_err *e);
/* Checks every key of o is one of keys (NULL-terminated): 0 or 32773
 * naming the unknown key. */
uint32_t rd_known_keys(json_object *o, const char *const *keys, struct ctl_err *e);
/* A request's Disks: an array of objects whose keys are among keys
 * (NULL-terminated) and which have the first required of them.  0, or the
 * first disk's failure naming it ("Disks[1].Target: missing"): 32773 for a
 * missing array or key and an unknown key, 32776 for a wrong type. */
uint32_t rd_disks_check(json_object *in, const char *const *keys, size_t required,
			struct ctl_err *e);

#endif
