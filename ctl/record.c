/* SPDX-License-Identifier: MIT */
/* Record validation against a schema table: see record.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "guid.h"
#include "json_get.h"
#include "record.h"
#include "store.h"
#include "vm.h"

enum ftype {
	F_STR,    /* a string of at most max bytes (min 1: not empty) */
	F_NAME,   /* a store name (ctl_name_valid) */
	F_JOBREF, /* "" or a store name */
	F_GEN,    /* "" or 32 hex digits */
	F_INT,    /* an integer in min..max */
	F_BOOL,
	F_OBJ, /* an object with the fields in sub */
	F_ARR, /* an array of at least min objects, each with the fields in sub */
};

struct field {
	const char *key;
	enum ftype type;
	bool required;
	int64_t min, max;
	const struct field *sub;
	/* The key's name in schema 1, read as key (NEWS: JSON schema 2). */
	const char *old;
};

#define STR_MAX 65536
#define PATH_MAX_LEN 4095
#define END                                      \
	{                                        \
		NULL, 0, false, 0, 0, NULL, NULL \
	}

static const struct field change_record[] = {
	{ "Kind", F_STR, true, 1, 16, NULL, NULL },
	{ "Path", F_STR, false, 1, PATH_MAX_LEN, NULL, NULL },
	{ "Name", F_STR, false, 1, PATH_MAX_LEN, NULL, NULL },
	{ "BaseGenerationId", F_GEN, false, 0, 0, NULL, "GenerationId" },
	{ "Consistent", F_BOOL, false, 0, 0, NULL, NULL },
	END,
};

static const struct field rp_disk[] = {
	{ "Name", F_NAME, true, 0, 0, NULL, NULL },
	{ "Image", F_STR, true, 1, PATH_MAX_LEN, NULL, NULL },
	{ "ImageGenerationId", F_GEN, false, 0, 0, NULL, "GenerationId" },
	{ "ChangeRecord", F_OBJ, false, 0, 0, change_record, NULL },
	END,
};

static const struct field recovery_point[] = {
	{ "Id", F_NAME, true, 0, 0, NULL, NULL },
	{ "CreationTime", F_STR, true, 0, 64, NULL, NULL },
	{ "CreationTimeEpoch", F_INT, true, 0, INT64_MAX, NULL, NULL },
	{ "Type", F_STR, true, 0, 64, NULL, NULL },
	{ "Disks", F_ARR, true, 1, 0, rp_disk, NULL },
	END,
};

static const struct field resume[] = {
	{ "Job", F_JOBREF, false, 0, 0, NULL, NULL },
	{ "RecoveryPoint", F_STR, false, 0, PATH_MAX_LEN, NULL, NULL },
	{ "ChangeSource", F_STR, false, 0, 64, NULL, NULL },
	{ "ChangeSourceArg", F_STR, false, 0, PATH_MAX_LEN, NULL, NULL },
	END,
};

static const struct field tracking_log[] = {
	{ "Path", F_STR, true, 1, PATH_MAX_LEN, NULL, NULL },
	{ "BaseGenerationId", F_GEN, true, 0, 0, NULL, NULL },
	{ "RecordedAt", F_STR, false, 0, 64, NULL, NULL },
	END,
};

static const struct field vm_disk[] = {
	{ "Name", F_NAME, true, 0, 0, NULL, NULL },
	{ "Target", F_STR, true, 1, PATH_MAX_LEN, NULL, NULL },
	{ "TargetGenerationId", F_GEN, true, 0, 0, NULL, "GenerationId" },
	{ "Inconsistent", F_BOOL, false, 0, 0, NULL, NULL },
	{ "PrimaryHoldsRecoveryPoint", F_STR, false, 0, CTL_NAME_MAX, NULL, "RecoveryPoint" },
	{ "Resume", F_OBJ, false, 0, 0, resume, NULL },
	{ "TrackingLog", F_OBJ, false, 0, 0, tracking_log, NULL },
	END,
};

static const struct field vm_fields[] = {
	{ "Name", F_NAME, true, 0, 0, NULL, NULL },
	{ "ReplicationMode", F_INT, true, 0, 4, NULL, NULL },
	{ "ReplicationState", F_INT, true, 0, 32768, NULL, NULL },
	{ "ReplicationHealth", F_INT, true, 0, 3, NULL, NULL },
	{ "TimeOfLastStateChange", F_STR, false, 0, 64, NULL, NULL },
	{ "Disks", F_ARR, true, 1, 0, vm_disk, NULL },
	{ "RecoveryPoints", F_ARR, true, 0, 0, recovery_point, NULL },
	{ "FailedOverTo", F_STR, false, 0, CTL_NAME_MAX, NULL, NULL },
	{ "PrimaryHoldsRecoveryPoint", F_STR, false, 0, CTL_NAME_MAX, NULL, NULL },
	{ "CurrentJob", F_JOBREF, false, 0, 0, NULL, NULL },
	END,
};

static const struct field job_disk[] = {
	{ "Name", F_NAME, true, 0, 0, NULL, NULL },
	{ "Source", F_STR, false, 0, PATH_MAX_LEN, NULL, NULL },
	{ "Target", F_STR, false, 0, PATH_MAX_LEN, NULL, NULL },
	{ "ChangeSource", F_STR, false, 0, 64, NULL, NULL },
	{ "ChangeSourceReason", F_STR, false, 0, STR_MAX, NULL, NULL },
	{ "Size", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "BytesToCopy", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "BytesCopied", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "RequestSize", F_INT, false, 0, UINT32_MAX, NULL, NULL },
	{ "QueueDepth", F_INT, false, 0, UINT32_MAX, NULL, NULL },
	{ "IoChoice", F_STR, false, 0, STR_MAX, NULL, NULL },
	{ "Completed", F_BOOL, false, 0, 0, NULL, NULL },
	END,
};

static const struct field job_fields[] = {
	{ "InstanceID", F_NAME, true, 0, 0, NULL, NULL },
	{ "JobType", F_INT, true, 0, UINT16_MAX, NULL, NULL },
	{ "JobState", F_INT, true, 2, 10, NULL, NULL },
	{ "PercentComplete", F_INT, false, 0, 100, NULL, NULL },
	{ "ErrorCode", F_INT, false, 0, UINT32_MAX, NULL, NULL },
	{ "ErrorDescription", F_STR, false, 0, STR_MAX, NULL, NULL },
	{ "ErrorSummaryDescription", F_STR, false, 0, STR_MAX, NULL, NULL },
	{ "TimeSubmitted", F_STR, true, 0, 64, NULL, NULL },
	{ "TimeSubmittedEpochNs", F_INT, true, 0, INT64_MAX, NULL, NULL },
	{ "StartTime", F_STR, false, 0, 64, NULL, NULL },
	{ "ElapsedTime", F_STR, false, 0, 64, NULL, NULL },
	{ "TimeOfLastStateChange", F_STR, false, 0, 64, NULL, NULL },
	{ "Cancellable", F_BOOL, false, 0, 0, NULL, NULL },
	{ "VirtualSystem", F_NAME, true, 0, 0, NULL, NULL },
	{ "RecoveryPoint", F_NAME, true, 0, 0, NULL, NULL },
	{ "BytesToCopy", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "BytesCopied", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "RateBytesPerSecond", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "ElapsedMilliseconds", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "WorkerPid", F_INT, true, 0, INT32_MAX, NULL, NULL },
	{ "WorkerStartTime", F_INT, false, 0, INT64_MAX, NULL, NULL },
	{ "Settings", F_OBJ, false, 0, 0, NULL, NULL },
	{ "Disks", F_ARR, true, 0, 0, job_disk, NULL },
	END,
};

static int bad(char *why, size_t n, const char *path, const char *key, const char *what)
{
	snprintf(why, n, "%s%s%s: %s", path, *path ? "." : "", key, what);
	return -EBADMSG;
}

static int check_object(json_object *o, const struct field *fs, const char *path, char *why,
			size_t n);

static int check_value(json_object *v, const struct field *f, const char *path, char *why, size_t n)
{
	const char *s = json_object_get_string(v);
	int64_t x;
	uint8_t g[16];

	switch (f->type) {
	case F_STR:
	case F_NAME:
	case F_JOBREF:
	case F_GEN:
		if (!json_object_is_type(v, json_type_string))
			return bad(why, n, path, f->key, "not a string");
		if (strlen(s) != (size_t)json_object_get_string_len(v))
			return bad(why, n, path, f->key, "holds a NUL byte");
		if (f->type == F_STR &&
		    (strlen(s) < (size_t)f->min || strlen(s) > (size_t)(f->max ? f->max : STR_MAX)))
			return bad(why, n, path, f->key, *s ? "too long" : "empty");
		if ((f->type == F_NAME || (f->type == F_JOBREF && *s)) && !ctl_name_valid(s))
			return bad(why, n, path, f->key, "not a valid name");
		if (f->type == F_GEN && *s && rc_guid_parse(s, g) < 0)
			return bad(why, n, path, f->key, "not 32 hex digits");
		return 0;
	case F_INT:
		if (!json_object_is_type(v, json_type_int))
			return bad(why, n, path, f->key, "not an integer");
		x = json_object_get_int64(v);
		if (x < f->min || x > f->max ||
		    (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
			return bad(why, n, path, f->key, "out of range");
		return 0;
	case F_BOOL:
		return json_object_is_type(v, json_type_boolean) ?
			       0 :
			       bad(why, n, path, f->key, "not a boolean");
	case F_OBJ:
		if (!json_object_is_type(v, json_type_object))
			return bad(why, n, path, f->key, "not an object");
		if (f->sub) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", f->key);
			return check_object(v, f->sub, sub, why, n);
		}
		return 0;
	case F_ARR:
		if (!json_object_is_type(v, json_type_array))
			return bad(why, n, path, f->key, "not an array");
		if (json_object_array_length(v) < (size_t)f->min)
			return bad(why, n, path, f->key, "empty");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *e = json_object_array_get_idx(v, i);
			char sub[256];
			snprintf(sub, sizeof(sub), "%s%s%s[%zu]", path, *path ? "." : "", f->key,
				 i);
			if (!json_object_is_type(e, json_type_object)) {
				snprintf(why, n, "%s: not an object", sub);
				return -EBADMSG;
			}
			int err = check_object(e, f->sub, sub, why, n);
			if (err)
				return err;
		}
		return 0;
	}
	return -EBADMSG;
}

static int check_object(json_object *o, const struct field *fs, const char *path, char *why,
			size_t n)
{
	for (const struct field *f = fs; f->key; f++) {
		json_object *v;
		int err;
		if (f->old)
			ctl_json_rename(o, f->old, f->key);
		if (!json_object_object_get_ex(o, f->key, &v)) {
			if (f->required)
				return bad(why, n, path, f->key, "missing");
			continue;
		}
		err = check_value(v, f, path, why, n);
		if (err)
			return err;
	}
	return 0;
}

/* Names inside one array must be unique: they are looked up by name. */
static int unique(json_object *arr, const char *key, const char *what, char *why, size_t n)
{
	size_t len = json_object_array_length(arr);

	for (size_t i = 0; i < len; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ctl_json_str(json_object_array_get_idx(arr, i), key),
				    ctl_json_str(json_object_array_get_idx(arr, j), key))) {
				snprintf(why, n, "%s[%zu].%s: \"%s\" twice", what, i, key,
					 ctl_json_str(json_object_array_get_idx(arr, i), key));
				return -EBADMSG;
			}
	return 0;
}

int ctl_vm_record_check(json_object *vm, const char *name, char *why, size_t n)
{
	json_object *rps;
	uint32_t state;
	int err = check_object(vm, vm_fields, "", why, n);

	if (err)
		return err;
	if (strcmp(ctl_json_str(vm, "Name"), name)) {
		snprintf(why, n, "Name: \"%s\" in the record of \"%s\"", ctl_json_str(vm, "Name"),
			 name);
		return -EBADMSG;
	}
	state = ctl_json_u32(vm, "ReplicationState");
	if (state > 14 && state != 32768) {
		snprintf(why, n, "ReplicationState: %u is no state", state);
		return -EBADMSG;
	}
	err = unique(json_object_object_get(vm, "Disks"), "Name", "Disks", why, n);
	rps = json_object_object_get(vm, "RecoveryPoints");
	if (!err)
		err = unique(rps, "Id", "RecoveryPoints", why, n);
	for (size_t i = 0; !err && i < json_object_array_length(rps); i++)
		err = unique(json_object_object_get(json_object_array_get_idx(rps, i), "Disks"),
			     "Name", "RecoveryPoints[].Disks", why, n);
	return err;
}

int ctl_job_record_check(json_object *job, const char *id, char *why, size_t n)
{
	int err = check_object(job, job_fields, "", why, n);

	if (err)
		return err;
	if (strcmp(ctl_json_str(job, "InstanceID"), id)) {
		snprintf(why, n, "InstanceID: \"%s\" in the record of job %s",
			 ctl_json_str(job, "InstanceID"), id);
		return -EBADMSG;
	}
	return unique(json_object_object_get(job, "Disks"), "Name", "Disks", why, n);
}
