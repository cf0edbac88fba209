/* SPDX-License-Identifier: MIT */
/*
 * A VM's recovery points (the RecoveryPoints array of vms/NAME.json): the
 * latest or a named one, and adding and removing them under the VM's lock,
 * each checked against the VM's disks.  A recovery point added after
 * failover names, for a disk given no change record, the tracking log that
 * failover recorded for it (doc/resyncctl.md).
 */
#include <string.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "guid.h"
#include "recovery_point.h"
#include "record.h"
#include "vm.h"

json_object *ctl_vm_rp(json_object *vm, const char *id)
{
	json_object *rps, *best = NULL;
	int64_t best_t = INT64_MIN;

	if (!json_object_object_get_ex(vm, "RecoveryPoints", &rps))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(rps); i++) {
		json_object *rp = json_object_array_get_idx(rps, i), *t;
		const char *n = ctl_json_str(rp, "Id");
		if (id && *id) {
			if (n && !strcmp(n, id))
				return rp;
			continue;
		}
		json_object_object_get_ex(rp, "CreationTimeEpoch", &t);
		if (json_object_get_int64(t) >= best_t) {
			best_t = json_object_get_int64(t);
			best = rp;
		}
	}
	return best;
}

static uint32_t check_rp(json_object *vm, json_object *rp, struct ctl_err *e)
{
	const char *id = ctl_json_str(rp, "Id");
	json_object *disks, *vmdisks;
	size_t n;

	if (!ctl_name_valid(id))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid recovery point id \"%s\"",
				id ? id : "");
	if (ctl_vm_rp(vm, id))
		return ctl_fail(e, RESYNC_RV_IN_USE, "recovery point \"%s\" already exists", id);
	json_object_object_get_ex(rp, "Disks", &disks);
	json_object_object_get_ex(vm, "Disks", &vmdisks);
	n = json_object_array_length(disks);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(disks, i), *cr;
		const char *name, *img;

		ctl_json_rename(d, "GenerationId", "ImageGenerationId");
		ctl_json_rename(json_object_object_get(d, "ChangeRecord"), "GenerationId",
				"BaseGenerationId");
		name = ctl_json_str(d, "Name");
		img = ctl_json_str(d, "Image");
		if (!name || !ctl_vm_disk(vm, name))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "VM has no disk \"%s\"",
					name ? name : "");
		if (!img || !*img)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "disk \"%s\" has no image",
					name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(name,
				    ctl_json_str(json_object_array_get_idx(disks, j), "Name")))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"disk \"%s\" given twice", name);
		if (json_object_object_get_ex(d, "ChangeRecord", &cr)) {
			const char *gen = ctl_json_str(cr, "BaseGenerationId");
			uint8_t g[16];
			if (gen && *gen && rc_guid_parse(gen, g) < 0)
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"disk \"%s\": generation must be 32 hex digits",
						name);
		}
	}
	if (n != json_object_array_length(vmdisks))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"a recovery point needs an image for each of the VM's %zu disks",
				json_object_array_length(vmdisks));
	return 0;
}

/* After failover (until a failback completes) the recovery VM's writes since
 * the target's generation are in each tracked disk's log: a disk without a
 * change record of its own gets that one. */
static void default_tracking(json_object *vm, json_object *rp)
{
	uint32_t state = ctl_json_u32(vm, "ReplicationState");
	json_object *disks = json_object_object_get(rp, "Disks");

	if (state != RESYNC_STATE_RECOVERED && state != RESYNC_STATE_COMMITTED &&
	    state != RESYNC_STATE_WAITING_FOR_FAILBACK &&
	    state != RESYNC_STATE_FAILBACK_IN_PROGRESS)
		return;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i), *tl, *cr;
		const char *path;
		if (json_object_object_get(d, "ChangeRecord") ||
		    !json_object_object_get_ex(ctl_vm_disk(vm, ctl_json_str(d, "Name")),
					       "TrackingLog", &tl) ||
		    !(path = ctl_json_str(tl, "Path")))
			continue;
		cr = json_object_new_object();
		json_object_object_add(cr, "Kind", json_object_new_string("track"));
		json_object_object_add(cr, "Path", json_object_new_string(path));
		json_object_object_add(d, "ChangeRecord", cr);
	}
}

uint32_t ctl_rp_add(struct ctl_store *s, const char *name, json_object *rp, struct ctl_err *e)
{
	json_object *vm = NULL, *rps;
	uint32_t rv;
	int fd = -1;

	rv = ctl_vm_lock(s, name, &fd, e);
	if (!rv)
		rv = ctl_vm_load(s, name, &vm, e);
	if (!rv)
		rv = check_rp(vm, rp, e);
	if (!rv) {
		default_tracking(vm, rp);
		json_object_object_get_ex(vm, "RecoveryPoints", &rps);
		json_object_array_add(rps, json_object_get(rp));
		rv = ctl_vm_save(s, vm, e);
	}
	ctl_unlock(fd);
	json_object_put(vm);
	json_object_put(rp);
	return rv;
}

uint32_t ctl_rp_remove(struct ctl_store *s, const char *name, const char *id, struct ctl_err *e)
{
	json_object *vm = NULL, *rps;
	uint32_t rv;
	int fd = -1;

	rv = ctl_vm_lock(s, name, &fd, e);
	if (!rv)
		rv = ctl_vm_load(s, name, &vm, e);
	if (rv)
		goto out;
	if (!ctl_name_valid(id) || !ctl_vm_rp(vm, id)) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "unknown recovery point \"%s\"", id);
		goto out;
	}
	rv = ctl_vm_check_no_live_job(s, vm, e);
	if (rv)
		goto out;
	json_object_object_get_ex(vm, "RecoveryPoints", &rps);
	for (size_t i = 0; i < json_object_array_length(rps); i++) {
		if (!strcmp(ctl_json_str(json_object_array_get_idx(rps, i), "Id"), id)) {
			json_object_array_del_idx(rps, i, 1);
			break;
		}
	}
	rv = ctl_vm_save(s, vm, e);
out:
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
}
