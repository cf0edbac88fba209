/* SPDX-License-Identifier: MIT */
/* The shared JSON views (view.h). */
#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "resync/return_codes.h"
#include "job.h"
#include "json_get.h"
#include "view.h"
#include "vm.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(ctl_json_str(*(json_object *const *)a, "Name"),
		      ctl_json_str(*(json_object *const *)b, "Name"));
}

uint32_t ctl_vm_list(struct ctl_store *s, json_object **vms, struct ctl_err *e)
{
	json_object *arr = json_object_new_array();
	struct dirent *de;
	DIR *d;
	int fd;

	*vms = arr;
	/* A new open file description, not dup(): a dup shares the read
	 * offset, so a second listing through one open store (the daemon's)
	 * would start at the end, and two at once would race. */
	fd = openat(s->vms, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return ctl_fail(e, RESYNC_RV_FAILED, "listing VMs failed");
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char name[CTL_NAME_MAX + 8];
		json_object *vm;
		if (n < 6 || n - 5 > CTL_NAME_MAX || strcmp(de->d_name + n - 5, ".json"))
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = '\0';
		if (!ctl_name_valid(name) || ctl_vm_load(s, name, &vm, NULL))
			continue;
		json_object_array_add(arr, vm);
	}
	closedir(d);
	json_object_array_sort(arr, by_name);
	return 0;
}

json_object *ctl_view_reply(uint32_t rv, json_object *out, const struct ctl_err *e)
{
	json_object *o = json_object_new_object();
	bool ok = rv == RESYNC_RV_COMPLETED || rv == RESYNC_RV_JOB_STARTED;

	json_object_object_add(o, "ReturnValue", json_object_new_int64(rv));
	json_object_object_add(o, "SchemaVersion", json_object_new_int(CTL_SCHEMA_VERSION));
	if (!ok && e && e->msg[0])
		json_object_object_add(o, "ErrorDescription", json_object_new_string(e->msg));
	if (out) {
		json_object_object_foreach(out, k, v)
			json_object_object_add(o, k, json_object_get(v));
	}
	return o;
}

json_object *ctl_view_job_started(struct ctl_store *s, const char *id, json_object *job)
{
	json_object *o = json_object_new_object();
	char ref[CTL_JOB_ID_LEN + 16];
	struct ctl_err e;

	snprintf(ref, sizeof(ref), "/v1/jobs/%s", id);
	json_object_object_add(o, "JobId", json_object_new_string(id));
	json_object_object_add(o, "JobReference", json_object_new_string(ref));
	if (!job && ctl_job_load(s, id, &job, &e))
		job = NULL;
	if (job)
		json_object_object_add(o, "Job", job);
	return o;
}

json_object *ctl_view_vm(json_object *rec)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "VirtualSystem",
			       json_object_new_string(ctl_json_str(rec, "Name") ?: ""));
	json_object_object_add(o, "Vm", rec);
	return o;
}

json_object *ctl_view_vms(json_object *recs)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "Vms", recs ? recs : json_object_new_array());
	return o;
}
