/* SPDX-License-Identifier: MIT */
/*
 * /v1/vms/{vm}/recovery-points: list, add, show, remove.  A new point is
 * built key by key from the request into the record shape resyncctl
 * recovery-point add makes, so nothing else of the request is stored.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "resync/return_codes.h"
#include "guid.h"
#include "json_reply.h"
#include "recovery_point.h"
#include "resources.h"
#include "vm.h"

void rd_rp_list(struct rd_daemon *d, const struct rd_request *q, const char *vm, struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *rec = NULL, *out = NULL;
	uint32_t rv = ctl_vm_load(&d->store, vm, &rec, &e);

	if (!rv) {
		out = json_object_new_object();
		json_object_object_add(out, "RecoveryPoints",
				       json_object_get(
					       json_object_object_get(rec, "RecoveryPoints")));
	}
	json_object_put(rec);
	rd_reply_rv(r, rv, out, &e);
}

void rd_rp_show(struct rd_daemon *d, const struct rd_request *q, const char *vm, const char *id,
		struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *rec = NULL, *out = NULL, *rp;
	uint32_t rv = ctl_vm_load(&d->store, vm, &rec, &e);

	if (!rv) {
		rp = ctl_name_valid(id) ? ctl_vm_rp(rec, id) : NULL;
		if (!rp) {
			json_object_put(rec);
			rd_reply_status(r, 404, RESYNC_RV_INVALID_PARAMETER,
					"unknown recovery point \"%s\"", id);
			return;
		}
		out = json_object_new_object();
		json_object_object_add(out, "RecoveryPoint", json_object_get(rp));
	}
	json_object_put(rec);
	rd_reply_rv(r, rv, out, &e);
}

void rd_rp_remove(struct rd_daemon *d, const struct rd_request *q, const char *vm, const char *id,
		  struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *rec = NULL;
	uint32_t rv = ctl_vm_load(&d->store, vm, &rec, &e);
	bool known = !rv && ctl_name_valid(id) && ctl_vm_rp(rec, id);

	json_object_put(rec);
	/* A path naming no recovery point is 404, as for GET. */
	if (!rv && !known)
		return rd_reply_status(r, 404, RESYNC_RV_INVALID_PARAMETER,
				       "unknown recovery point \"%s\"", id);
	if (!rv)
		rv = ctl_rp_remove(&d->store, vm, id, &e);
	rd_reply_rv(r, rv, NULL, &e);
}

/* Copies key of from into to when present: 0, or 32776 when its type is
 * not want. */
static uint32_t copy_key(json_object *from, json_object *to, const char *key, json_type want,
			 const char *where, struct ctl_err *e)
{
	json_object *v = json_object_object_get(from, key);

	if (!v)
		return 0;
	if (!json_object_is_type(v, want))
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE, "%s.%s: not a%s", where, key,
				want == json_type_string ? " string" : " boolean");
	json_object_object_add(to, key, json_object_get(v));
	return 0;
}

static uint32_t check_guid(json_object *o, const char *key, const char *where, struct ctl_err *e)
{
	const char *g = json_object_get_string(json_object_object_get(o, key));
	uint8_t b[16];

	if (g && rc_guid_parse(g, b) < 0)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "%s.%s: must be 32 hex digits",
				where, key);
	return 0;
}

/* ChangeRecord: {Kind: bitmap|nbd-dirty|extents, Path (bitmap, extents) or
 * Name (nbd-dirty), BaseGenerationId, Consistent}. */
static uint32_t parse_change_record(json_object *in, const char *where, json_object **out,
				    struct ctl_err *e)
{
	static const char *const keys[] = { "Kind",       "Path", "Name", "BaseGenerationId",
					    "Consistent", NULL };
	const char *kind = json_object_get_string(json_object_object_get(in, "Kind"));
	const char *field;
	json_object *cr = json_object_new_object();
	uint32_t rv;

	*out = cr;
	if (!json_object_is_type(in, json_type_object))
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE, "%s: not an object", where);
	rv = rd_known_keys(in, keys, e);
	if (rv)
		return rv;
	if (!json_object_is_type(json_object_object_get(in, "Kind"), json_type_string))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "%s.Kind: missing or not a string",
				where);
	if (!strcmp(kind, "bitmap") || !strcmp(kind, "extents"))
		field = "Path";
	else if (!strcmp(kind, "nbd-dirty"))
		field = "Name";
	else
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"%s.Kind: \"%s\" is not bitmap, nbd-dirty or extents", where, kind);
	if (!json_object_object_get(in, field) ||
	    json_object_object_get(in, strcmp(field, "Path") ? "Path" : "Name"))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "%s: Kind %s wants %s alone", where,
				kind, field);
	rv = copy_key(in, cr, "Kind", json_type_string, where, e);
	if (!rv)
		rv = copy_key(in, cr, field, json_type_string, where, e);
	if (!rv)
		rv = copy_key(in, cr, "BaseGenerationId", json_type_string, where, e);
	if (!rv)
		rv = check_guid(cr, "BaseGenerationId", where, e);
	if (!rv)
		rv = copy_key(in, cr, "Consistent", json_type_boolean, where, e);
	if (!rv && !json_object_object_get(cr, "Consistent"))
		json_object_object_add(cr, "Consistent", json_object_new_boolean(false));
	return rv;
}

static uint32_t parse_disks(json_object *in, json_object *disks, struct ctl_err *e)
{
	static const char *const keys[] = { "Name", "Image", "ImageGenerationId", "ChangeRecord",
					    NULL };
	char where[48];
	uint32_t rv = rd_disks_check(in, keys, 2, e);

	for (size_t i = 0; !rv && i < json_object_array_length(in); i++) {
		json_object *di = json_object_array_get_idx(in, i), *d = json_object_new_object();
		json_object *cr;
		json_object_array_add(disks, d);
		snprintf(where, sizeof(where), "Disks[%zu]", i);
		for (int k = 0; k < 3 && !rv; k++)
			rv = copy_key(di, d, keys[k], json_type_string, where, e);
		if (!rv)
			rv = check_guid(d, "ImageGenerationId", where, e);
		if (rv || !json_object_object_get(di, "ChangeRecord"))
			continue;
		strncat(where, ".ChangeRecord", sizeof(where) - strlen(where) - 1);
		rv = parse_change_record(json_object_object_get(di, "ChangeRecord"), where, &cr, e);
		json_object_object_add(d, "ChangeRecord", cr);
	}
	return rv;
}

/* CreationTime: RFC 3339 UTC text or seconds since the epoch; absent: now. */
static uint32_t parse_time(json_object *v, long long *t, struct ctl_err *e)
{
	struct tm tm = { 0 };
	const char *s, *end;

	*t = ctl_now();
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
		*t = json_object_get_int64(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"CreationTime: not a string or a number of seconds");
	s = json_object_get_string(v);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"CreationTime \"%s\" is not RFC 3339 UTC (2026-11-25T06:00:00Z)",
				s);
	*t = (long long)timegm(&tm);
	return 0;
}

void rd_rp_add(struct rd_daemon *d, const struct rd_request *q, const char *vm, struct rd_reply *r)
{
	static const char *const keys[] = { "Id", "CreationTime", "Type", "Disks", NULL };
	static const char *const types[] = { "Standard", "ApplicationConsistent", "PlannedFailover",
					     NULL };
	struct ctl_err e = { "" };
	json_object *body = NULL, *rp = json_object_new_object(), *disks = json_object_new_array();
	json_object *id, *type;
	const char *const *ty = types;
	long long t = 0;
	char ts[32];
	uint32_t rv;

	rv = rd_body_object(q->body, q->body_len, &body, &e);
	if (!rv)
		rv = rd_known_keys(body, keys, &e);
	id = json_object_object_get(body, "Id");
	type = json_object_object_get(body, "Type");
	if (!rv && !json_object_is_type(id, json_type_string))
		rv = ctl_fail(&e, id ? RESYNC_RV_INCORRECT_DATA_TYPE : RESYNC_RV_INVALID_PARAMETER,
			      "Id: %s", id ? "not a string" : "missing");
	if (!rv && type && !json_object_is_type(type, json_type_string))
		rv = ctl_fail(&e, RESYNC_RV_INCORRECT_DATA_TYPE, "Type: not a string");
	for (; !rv && type && *ty && strcmp(*ty, json_object_get_string(type)); ty++)
		;
	if (!rv && !*ty)
		rv = ctl_fail(
			&e, RESYNC_RV_INVALID_PARAMETER,
			"Type \"%s\" is not Standard, ApplicationConsistent or PlannedFailover",
			json_object_get_string(type));
	if (!rv)
		rv = parse_time(json_object_object_get(body, "CreationTime"), &t, &e);
	if (!rv)
		rv = parse_disks(json_object_object_get(body, "Disks"), disks, &e);
	if (!rv) {
		ctl_format_time(t, ts);
		json_object_object_add(rp, "Id", json_object_get(id));
		json_object_object_add(rp, "CreationTime", json_object_new_string(ts));
		json_object_object_add(rp, "CreationTimeEpoch", json_object_new_int64(t));
		json_object_object_add(rp, "Type", json_object_new_string(*ty));
		json_object_object_add(rp, "Disks", disks);
		disks = NULL;
		rv = ctl_rp_add(&d->store, vm, rp, &e);
		rp = NULL;
	}
	json_object_put(disks);
	json_object_put(rp);
	rd_reply_rv(r, rv, NULL, &e);
	if (!rv) {
		r->status = 201;
		snprintf(r->location, sizeof(r->location), "/v1/vms/%s/recovery-points/%s", vm,
			 json_object_get_string(id));
	}
	json_object_put(body);
}
