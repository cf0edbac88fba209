/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "job.h"
#include "nbd_uri.h"
#include "probe.h"
#include "record.h"
#include "vm.h"

static void file_names(const char *name, char json[CTL_NAME_MAX + 8], char lock[CTL_NAME_MAX + 8])
{
	snprintf(json, CTL_NAME_MAX + 8, "%s.json", name);
	snprintf(lock, CTL_NAME_MAX + 8, "%s.lock", name);
}

uint32_t ctl_json_u32(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint32_t)json_object_get_int64(v) : 0;
}

const char *ctl_json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

uint32_t ctl_vm_load(struct ctl_store *s, const char *name, json_object **vm, struct ctl_err *e)
{
	char jn[CTL_NAME_MAX + 8], ln[CTL_NAME_MAX + 8], why[256];
	int err;

	*vm = NULL;
	if (!ctl_name_valid(name))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid VM name \"%s\"", name);
	file_names(name, jn, ln);
	err = ctl_read_json(s->vms, jn, vm);
	if (err == -ENOENT)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "unknown VM \"%s\"", name);
	if (err == -EPERM) {
		ctl_untrusted_reason(s->vms, jn, why, sizeof(why));
		return ctl_fail(e, RESYNC_RV_ACCESS_DENIED, "VM record %s/vms/%s not trusted: %s",
				s->path, jn, why);
	}
	if (err == -EBADMSG || err == -ELOOP)
		return ctl_fail(e, RESYNC_RV_STATUS_UNKNOWN, "VM record %s/vms/%s unreadable: %s",
				s->path, jn, err == -EBADMSG ? "not JSON (an object)" : strerror(-err));
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "reading VM \"%s\": %s", name,
				strerror(-err));
	if (ctl_vm_record_check(*vm, name, why, sizeof(why)) < 0) {
		json_object_put(*vm);
		*vm = NULL;
		return ctl_fail(e, RESYNC_RV_STATUS_UNKNOWN, "VM record %s/vms/%s unreadable: %s",
				s->path, jn, why);
	}
	return 0;
}

uint32_t ctl_vm_save(struct ctl_store *s, json_object *vm, struct ctl_err *e)
{
	char jn[CTL_NAME_MAX + 8], ln[CTL_NAME_MAX + 8];
	const char *name = ctl_json_str(vm, "Name");
	int err;

	file_names(name, jn, ln);
	err = ctl_write_json(s->vms, jn, vm);
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "writing %s/vms/%s: %s", s->path, jn,
				strerror(-err));
	return 0;
}

uint32_t ctl_vm_lock(struct ctl_store *s, const char *name, int *fd, struct ctl_err *e)
{
	char jn[CTL_NAME_MAX + 8], ln[CTL_NAME_MAX + 8];
	int err;

	if (!ctl_name_valid(name))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid VM name \"%s\"", name);
	file_names(name, jn, ln);
	err = ctl_lock(s->vms, ln, true, fd);
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "locking %s/vms/%s: %s", s->path, ln,
				strerror(-err));
	return 0;
}

void ctl_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int ctl_parse_generation(const char *hex, uint8_t id[16])
{
	if (strlen(hex) != 32)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return -EINVAL;
		id[i] = (uint8_t)v;
	}
	return 0;
}

void ctl_format_generation(const uint8_t id[16], char hex[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
}

json_object *ctl_vm_disk(json_object *vm, const char *disk)
{
	json_object *disks;

	if (!json_object_object_get_ex(vm, "Disks", &disks))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		const char *n = ctl_json_str(d, "Name");
		if (n && !strcmp(n, disk))
			return d;
	}
	return NULL;
}

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

void ctl_vm_set_state(json_object *vm, uint32_t state, uint32_t health)
{
	char ts[32];

	ctl_format_time(ctl_now(), ts);
	json_object_object_add(vm, "ReplicationState", json_object_new_int64(state));
	json_object_object_add(vm, "ReplicationHealth", json_object_new_int64(health));
	json_object_object_add(vm, "TimeOfLastStateChange", json_object_new_string(ts));
}

bool ctl_vm_failback_state_ok(uint32_t mode, uint32_t state)
{
	if (mode != RESYNC_MODE_REPLICA)
		return false;
	return state == RESYNC_STATE_RECOVERED || state == RESYNC_STATE_COMMITTED ||
	       state == RESYNC_STATE_WAITING_FOR_FAILBACK ||
	       state == RESYNC_STATE_FAILBACK_IN_PROGRESS;
}

static uint32_t check_disks(json_object *disks, struct ctl_err *e)
{
	size_t n = json_object_array_length(disks);

	if (n == 0)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "a VM needs at least one --disk");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		const char *name = ctl_json_str(d, "Name"), *target = ctl_json_str(d, "Target");
		const char *gen = ctl_json_str(d, "GenerationId");
		uint8_t id[16];

		if (!ctl_name_valid(name))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid disk name \"%s\"",
					name ? name : "");
		if (!target || !*target)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "disk \"%s\" has no target", name);
		if (gen && *gen && ctl_parse_generation(gen, id) < 0)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"disk \"%s\": generation must be 32 hex digits", name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(name, ctl_json_str(json_object_array_get_idx(disks, j), "Name")))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "disk \"%s\" given twice",
						name);
	}
	return 0;
}

/* What a target is, not what it is called: a block device's number, a
 * file's device and inode, an NBD URI; a path that does not exist yet is
 * only its path. */
static void target_identity(const char *t, char *buf, size_t len)
{
	struct stat st;

	if (rc_is_nbd_uri(t))
		snprintf(buf, len, "nbd %s", t);
	else if (stat(t, &st) < 0)
		snprintf(buf, len, "path %s", t);
	else if (S_ISBLK(st.st_mode))
		snprintf(buf, len, "block %llu", (unsigned long long)st.st_rdev);
	else
		snprintf(buf, len, "file %llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
}

/* 32773 when one of disks names the target of an earlier one of disks, or of
 * a disk of another VM in vms (NULL: none). */
static uint32_t check_shared(const char *name, json_object *disks, json_object *others,
			     const char *other_vm, struct ctl_err *e)
{
	char a[4200], b[4200];

	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		target_identity(ctl_json_str(d, "Target") ?: "", a, sizeof(a));
		size_t n = others ? json_object_array_length(others) : i;
		for (size_t j = 0; j < n; j++) {
			json_object *o = json_object_array_get_idx(others ? others : disks, j);
			target_identity(ctl_json_str(o, "Target") ?: "", b, sizeof(b));
			if (strcmp(a, b))
				continue;
			if (others)
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"disk \"%s\" of VM \"%s\": target %s is also disk \"%s\" "
						"of VM \"%s\"", ctl_json_str(d, "Name"), name,
						ctl_json_str(d, "Target"), ctl_json_str(o, "Name"), other_vm);
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"disks \"%s\" and \"%s\" of VM \"%s\" name the same target %s",
					ctl_json_str(o, "Name"), ctl_json_str(d, "Name"), name,
					ctl_json_str(d, "Target"));
		}
	}
	return 0;
}

uint32_t ctl_vm_check_targets(struct ctl_store *s, const char *name, json_object *disks,
			      struct ctl_err *e)
{
	uint32_t rv = check_shared(name, disks, NULL, NULL, e);
	int fd = rv ? -1 : dup(s->vms);
	struct dirent *de;
	DIR *dir;

	if (rv || fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return rv;
	}
	rewinddir(dir);
	while (!rv && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char other[CTL_NAME_MAX + 8];
		json_object *vm = NULL;
		if (len <= 5 || len - 5 > CTL_NAME_MAX || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(other, sizeof(other), "%.*s", (int)(len - 5), de->d_name);
		if (!ctl_name_valid(other) || !strcmp(other, name) ||
		    ctl_read_json(s->vms, de->d_name, &vm) < 0)
			continue;
		rv = check_shared(name, disks, json_object_object_get(vm, "Disks"), other, e);
		json_object_put(vm);
	}
	closedir(dir);
	return rv;
}

uint32_t ctl_vm_add(struct ctl_store *s, const char *name, uint32_t mode, json_object *disks,
		    struct ctl_err *e)
{
	json_object *vm = NULL;
	uint32_t rv;
	int fd = -1;

	if (!ctl_name_valid(name)) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid VM name \"%s\"", name);
		goto out;
	}
	if (mode > RESYNC_MODE_EXTENDED_REPLICA) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid replication mode %u", mode);
		goto out;
	}
	rv = check_disks(disks, e);
	if (rv)
		goto out;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		if (!ctl_json_str(d, "GenerationId"))
			json_object_object_add(d, "GenerationId", json_object_new_string(""));
		json_object_object_add(d, "Inconsistent", json_object_new_boolean(false));
	}
	rv = ctl_vm_lock(s, name, &fd, e);
	if (rv)
		goto out;
	rv = ctl_vm_load(s, name, &vm, e);
	if (rv == 0 || rv == RESYNC_RV_STATUS_UNKNOWN) {
		rv = ctl_fail(e, RESYNC_RV_IN_USE, "VM \"%s\" already exists", name);
		goto out;
	}
	rv = ctl_vm_check_targets(s, name, disks, e);
	if (rv)
		goto out;
	vm = json_object_new_object();
	json_object_object_add(vm, "Name", json_object_new_string(name));
	json_object_object_add(vm, "ReplicationMode", json_object_new_int64(mode));
	ctl_vm_set_state(vm, mode == RESYNC_MODE_NONE ? RESYNC_STATE_DISABLED
						   : RESYNC_STATE_REPLICATING,
			 mode == RESYNC_MODE_NONE ? RESYNC_HEALTH_NOT_APPLICABLE : RESYNC_HEALTH_OK);
	json_object_object_add(vm, "Disks", json_object_get(disks));
	json_object_object_add(vm, "RecoveryPoints", json_object_new_array());
	json_object_object_add(vm, "FailedOverTo", json_object_new_string(""));
	json_object_object_add(vm, "CurrentJob", json_object_new_string(""));
	rv = ctl_vm_save(s, vm, e);
out:
	ctl_unlock(fd);
	json_object_put(vm);
	json_object_put(disks);
	return rv;
}

/* 32774 when the VM's current job has a live worker. */
static uint32_t check_no_live_job(struct ctl_store *s, json_object *vm, struct ctl_err *e)
{
	const char *job = ctl_json_str(vm, "CurrentJob");

	if (job && *job && ctl_job_alive(s, job) == 1)
		return ctl_fail(e, RESYNC_RV_IN_USE, "job %s is running on VM \"%s\"", job,
				ctl_json_str(vm, "Name"));
	return 0;
}

uint32_t ctl_vm_remove(struct ctl_store *s, const char *name, struct ctl_err *e)
{
	char jn[CTL_NAME_MAX + 8], ln[CTL_NAME_MAX + 8];
	json_object *vm = NULL;
	uint32_t rv;
	int fd = -1, err;

	rv = ctl_vm_lock(s, name, &fd, e);
	if (!rv)
		rv = ctl_vm_load(s, name, &vm, e);
	if (!rv)
		rv = check_no_live_job(s, vm, e);
	if (!rv) {
		file_names(name, jn, ln);
		err = ctl_unlink(s->vms, jn);
		if (err < 0)
			rv = ctl_fail(e, ctl_rv_from_errno(err), "removing VM \"%s\": %s", name,
				      strerror(-err));
	}
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
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
		const char *name = ctl_json_str(d, "Name"), *img = ctl_json_str(d, "Image");
		if (!name || !ctl_vm_disk(vm, name))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "VM has no disk \"%s\"",
					name ? name : "");
		if (!img || !*img)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "disk \"%s\" has no image", name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(name, ctl_json_str(json_object_array_get_idx(disks, j), "Name")))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "disk \"%s\" given twice",
						name);
		if (json_object_object_get_ex(d, "ChangeRecord", &cr)) {
			const char *gen = ctl_json_str(cr, "GenerationId");
			uint8_t g[16];
			if (gen && *gen && ctl_parse_generation(gen, g) < 0)
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"disk \"%s\": generation must be 32 hex digits", name);
		}
	}
	if (n != json_object_array_length(vmdisks))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"a recovery point needs an image for each of the VM's %zu disks",
				json_object_array_length(vmdisks));
	return 0;
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
	rv = check_no_live_job(s, vm, e);
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

uint32_t ctl_failover(struct ctl_store *s, const char *name, const char *id, bool commit,
		      struct ctl_err *e)
{
	json_object *vm = NULL, *rp;
	uint32_t rv, state, mode;
	int fd = -1;

	rv = ctl_vm_lock(s, name, &fd, e);
	if (!rv)
		rv = ctl_vm_load(s, name, &vm, e);
	if (rv)
		goto out;
	state = ctl_json_u32(vm, "ReplicationState");
	mode = ctl_json_u32(vm, "ReplicationMode");
	if (commit) {
		if (mode != RESYNC_MODE_REPLICA || state != RESYNC_STATE_RECOVERED) {
			rv = ctl_fail(e, RESYNC_RV_INVALID_STATE,
				      "commit needs a Replica VM in state 5 Recovered (mode %u, state %u)",
				      mode, state);
			goto out;
		}
		ctl_vm_set_state(vm, RESYNC_STATE_COMMITTED, RESYNC_HEALTH_OK);
		rv = ctl_vm_save(s, vm, e);
		goto out;
	}
	/* Failover is the step a replica takes when the primary is lost: from
	 * any settled replication state, or again after a completed failback. */
	if (mode != RESYNC_MODE_REPLICA ||
	    !(state == RESYNC_STATE_READY || state == RESYNC_STATE_WAITING_INITIAL ||
	      state == RESYNC_STATE_REPLICATING || state == RESYNC_STATE_SYNCED ||
	      state == RESYNC_STATE_SUSPENDED || state == RESYNC_STATE_CRITICAL ||
	      state == RESYNC_STATE_RECOVERED || state == RESYNC_STATE_FAILBACK_COMPLETE)) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_STATE,
			      "failover needs a Replica VM in a replicating or recovered state (mode %u, state %u)",
			      mode, state);
		goto out;
	}
	rp = ctl_vm_rp(vm, id);
	if (!rp) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, id && *id ?
			      "unknown recovery point \"%s\"" : "VM has no recovery point%s",
			      id && *id ? id : "");
		goto out;
	}
	json_object_object_add(vm, "FailedOverTo",
			       json_object_new_string(ctl_json_str(rp, "Id")));
	ctl_vm_set_state(vm, RESYNC_STATE_RECOVERED, RESYNC_HEALTH_OK);
	rv = ctl_vm_save(s, vm, e);
out:
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
}
