/* SPDX-License-Identifier: MIT */
/*
 * /v1/vms: list, register, show, remove, and the two methods on a VM,
 * failover and failback (InitiateFailback), through the same ctl/ calls
 * resyncctl makes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "failback.h"
#include "json_reply.h"
#include "resources.h"
#include "state_machine.h"
#include "view.h"
#include "vm.h"

void rd_vm_list(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *vms = NULL;
	uint32_t rv = ctl_vm_list(&d->store, &vms, &e);

	rd_reply_rv(r, rv, ctl_view_vms(vms), &e);
}

void rd_vm_show(struct rd_daemon *d, const struct rd_request *q, const char *vm, struct rd_reply *r)
{
	struct ctl_err e = { "" };
	json_object *rec = NULL, *out = NULL;
	uint32_t rv = ctl_vm_load(&d->store, vm, &rec, &e);

	if (!rv)
		out = ctl_view_vm(rec);
	rd_reply_rv(r, rv, out, &e);
}

/* ReplicationMode as a number 0..4 or a name as resyncctl takes it. */
static uint32_t parse_mode(json_object *m, uint32_t *mode, struct ctl_err *e)
{
	static const char *const names[] = { "none", "primary", "replica", "test-replica",
					     "extended-replica" };

	if (!m) {
		*mode = RESYNC_MODE_REPLICA;
		return 0;
	}
	if (json_object_is_type(m, json_type_int)) {
		int64_t v = json_object_get_int64(m);
		if (v < 0 || v > RESYNC_MODE_EXTENDED_REPLICA)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"ReplicationMode %lld is not 0..4", (long long)v);
		*mode = (uint32_t)v;
		return 0;
	}
	if (!json_object_is_type(m, json_type_string))
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"ReplicationMode: not a number or a name");
	for (uint32_t i = 0; i < 5; i++)
		if (!strcmp(json_object_get_string(m), names[i])) {
			*mode = i;
			return 0;
		}
	return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "unknown ReplicationMode \"%s\"",
			json_object_get_string(m));
}

/* Disks: [{Name, Target[, TargetGenerationId]}], copied key by key so nothing
 * else of the request reaches the record. */
static uint32_t parse_disks(json_object *in, json_object **out, struct ctl_err *e)
{
	static const char *const keys[] = { "Name", "Target", "TargetGenerationId", NULL };
	uint32_t rv = rd_disks_check(in, keys, 2, e);

	*out = NULL;
	if (rv)
		return rv;
	*out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(in); i++) {
		json_object *di = json_object_array_get_idx(in, i), *d = json_object_new_object();
		json_object_array_add(*out, d);
		for (const char *const *k = keys; *k; k++) {
			json_object *v = json_object_object_get(di, *k);
			if (v && !json_object_is_type(v, json_type_string))
				return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
						"Disks[%zu].%s: not a string", i, *k);
			if (v)
				json_object_object_add(d, *k, json_object_get(v));
		}
	}
	return 0;
}

void rd_vm_add(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r)
{
	static const char *const keys[] = { "Name", "ReplicationMode", "Disks", NULL };
	struct ctl_err e = { "" };
	json_object *body = NULL, *disks = NULL, *name;
	uint32_t mode = 0, rv;

	rv = rd_body_object(q->body, q->body_len, &body, &e);
	if (!rv)
		rv = rd_known_keys(body, keys, &e);
	name = json_object_object_get(body, "Name");
	if (!rv && !json_object_is_type(name, json_type_string))
		rv = ctl_fail(&e,
			      name ? RESYNC_RV_INCORRECT_DATA_TYPE : RESYNC_RV_INVALID_PARAMETER,
			      "Name: %s", name ? "not a string" : "missing");
	if (!rv)
		rv = parse_mode(json_object_object_get(body, "ReplicationMode"), &mode, &e);
	if (!rv)
		rv = parse_disks(json_object_object_get(body, "Disks"), &disks, &e);
	if (!rv) {
		rv = ctl_vm_add(&d->store, json_object_get_string(name), mode, disks, &e);
		disks = NULL;
	}
	json_object_put(disks);
	rd_reply_rv(r, rv, NULL, &e);
	if (!rv) {
		r->status = 201;
		snprintf(r->location, sizeof(r->location), "/v1/vms/%s",
			 json_object_get_string(name));
	}
	json_object_put(body);
}

void rd_vm_remove(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		  struct rd_reply *r)
{
	struct ctl_err e = { "" };

	rd_reply_rv(r, ctl_vm_remove(&d->store, vm, &e), NULL, &e);
}

/* An optional string field: 0, or 32776 when it is not a string. */
static uint32_t opt_str(json_object *o, const char *key, const char **out, struct ctl_err *e)
{
	json_object *v = json_object_object_get(o, key);

	*out = NULL;
	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE, "%s: not a string", key);
	*out = json_object_get_string(v);
	return 0;
}

void rd_vm_failover(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		    struct rd_reply *r)
{
	static const char *const keys[] = { "RecoveryPointIdentifier", "Commit", NULL };
	struct ctl_err e = { "" };
	json_object *body = NULL, *commit;
	const char *rp = NULL;
	uint32_t rv;

	rv = rd_body_object(q->body, q->body_len, &body, &e);
	if (!rv)
		rv = rd_known_keys(body, keys, &e);
	if (!rv)
		rv = opt_str(body, "RecoveryPointIdentifier", &rp, &e);
	commit = json_object_object_get(body, "Commit");
	if (!rv && commit && !json_object_is_type(commit, json_type_boolean))
		rv = ctl_fail(&e, RESYNC_RV_INCORRECT_DATA_TYPE, "Commit: not a boolean");
	if (!rv && commit && json_object_get_boolean(commit) && rp)
		rv = ctl_fail(&e, RESYNC_RV_INVALID_PARAMETER,
			      "Commit takes no RecoveryPointIdentifier");
	if (!rv)
		rv = ctl_failover(&d->store, vm, rp, commit && json_object_get_boolean(commit), &e);
	rd_reply_rv(r, rv, NULL, &e);
	json_object_put(body);
}

/* ReplicationSettingData: a JSON object is handed over as its text, a
 * string as it is (the settings parser decides what it holds). */
static uint32_t settings_text(json_object *v, const char **out, struct ctl_err *e)
{
	*out = NULL;
	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		*out = json_object_get_string(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_object)) {
		*out = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		return 0;
	}
	return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
			"ReplicationSettingData: not an object or a string");
}

void rd_vm_failback(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		    struct rd_reply *r)
{
	static const char *const keys[] = { "RecoveryPointIdentifier", "ReplicationSettingData",
					    NULL };
	struct ctl_failback_req req = { .vm = vm };
	struct ctl_err e = { "" };
	char job[CTL_JOB_ID_LEN];
	json_object *body = NULL, *out = NULL;
	uint32_t rv;

	rv = rd_body_object(q->body, q->body_len, &body, &e);
	if (!rv)
		rv = rd_known_keys(body, keys, &e);
	if (!rv)
		rv = opt_str(body, "RecoveryPointIdentifier", &req.recovery_point, &e);
	if (!rv)
		rv = settings_text(json_object_object_get(body, "ReplicationSettingData"),
				   &req.settings, &e);
	if (!rv)
		rv = ctl_initiate_failback(&d->store, &req, job, &e);
	if (rv == RESYNC_RV_JOB_STARTED) {
		out = ctl_view_job_started(&d->store, job, NULL);
		snprintf(r->location, sizeof(r->location), "/v1/jobs/%s", job);
	}
	rd_reply_rv(r, rv, out, &e);
	json_object_put(body);
}
