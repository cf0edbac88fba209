/* SPDX-License-Identifier: MIT */
/*
 * VM records: vms/NAME.json read, written durably and locked, and the
 * checks made when a VM is registered or removed (names, disks, and targets
 * that may not be shared between disks or VMs).  Recovery points are in
 * recovery_point.c, replication state changes in state_machine.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "endpoint_check.h"
#include "guid.h"
#include "job.h"
#include "journal.h"
#include "nbd_uri.h"
#include "record.h"
#include "state_machine.h"
#include "vm.h"

static void file_names(const char *name, char json[CTL_NAME_MAX + 8], char lock[CTL_NAME_MAX + 8])
{
	snprintf(json, CTL_NAME_MAX + 8, "%s.json", name);
	snprintf(lock, CTL_NAME_MAX + 8, "%s.lock", name);
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
				s->path, jn,
				err == -EBADMSG ? "not JSON (an object)" : strerror(-err));
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
	json_object *old = NULL, *now = NULL;
	uint64_t ev;
	int err;

	file_names(name, jn, ln);
	/* The event first (journal.h): a change the journal cannot show is not made. */
	err = ctl_read_json(s->vms, jn, &old);
	if (err < 0 && err != -ENOENT)
		old = json_object_new_object();
	err = ctl_journal_vm(s, old, vm, &ev);
	json_object_put(old);
	if (err < 0)
		return ctl_fail(e, ctl_rv_from_errno(err), "VM \"%s\": journaling the change: %s",
				name, ctl_journal_strerror(err));
	err = ctl_write_json(s->vms, jn, vm);
	if (err < 0 && ev) {
		/* The journal said what the record does not hold: say what it does. */
		int rerr = ctl_read_json(s->vms, jn, &now);
		if (rerr == 0 || rerr == -ENOENT)
			ctl_journal_vm(s, vm, now, NULL);
		json_object_put(now);
	}
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

static uint32_t check_disks(json_object *disks, struct ctl_err *e)
{
	size_t n = json_object_array_length(disks);

	if (n == 0)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "a VM needs at least one --disk");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		const char *name, *target, *gen;

		ctl_json_rename(d, "GenerationId", "TargetGenerationId");
		name = ctl_json_str(d, "Name");
		target = ctl_json_str(d, "Target");
		gen = ctl_json_str(d, "TargetGenerationId");
		uint8_t id[16];

		if (!ctl_name_valid(name))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "invalid disk name \"%s\"",
					name ? name : "");
		if (!target || !*target)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "disk \"%s\" has no target",
					name);
		if (gen && *gen && rc_guid_parse(gen, id) < 0)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"disk \"%s\": generation must be 32 hex digits", name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(name,
				    ctl_json_str(json_object_array_get_idx(disks, j), "Name")))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"disk \"%s\" given twice", name);
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
				return ctl_fail(
					e, RESYNC_RV_INVALID_PARAMETER,
					"disk \"%s\" of VM \"%s\": target %s is also disk \"%s\" "
					"of VM \"%s\"",
					ctl_json_str(d, "Name"), name, ctl_json_str(d, "Target"),
					ctl_json_str(o, "Name"), other_vm);
			return ctl_fail(
				e, RESYNC_RV_INVALID_PARAMETER,
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
	int fd = rv ? -1 : openat(s->vms, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
		if (!ctl_json_str(d, "TargetGenerationId"))
			json_object_object_add(d, "TargetGenerationId", json_object_new_string(""));
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
	ctl_vm_set_state(vm,
			 mode == RESYNC_MODE_NONE ? RESYNC_STATE_DISABLED :
						    RESYNC_STATE_REPLICATING,
			 mode == RESYNC_MODE_NONE ? RESYNC_HEALTH_NOT_APPLICABLE :
						    RESYNC_HEALTH_OK);
	json_object_object_add(vm, "Disks", json_object_get(disks));
	json_object_object_add(vm, "RecoveryPoints", json_object_new_array());
	json_object_object_add(vm, "FailedOverTo", json_object_new_string(""));
	json_object_object_add(vm, "PrimaryHoldsRecoveryPoint", json_object_new_string(""));
	json_object_object_add(vm, "CurrentJob", json_object_new_string(""));
	rv = ctl_vm_save(s, vm, e);
out:
	ctl_unlock(fd);
	json_object_put(vm);
	json_object_put(disks);
	return rv;
}

uint32_t ctl_vm_check_no_live_job(struct ctl_store *s, json_object *vm, struct ctl_err *e)
{
	const char *job = ctl_json_str(vm, "CurrentJob");

	if (job && *job && ctl_job_running(s, job) == 1)
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
		rv = ctl_vm_check_no_live_job(s, vm, e);
	if (!rv) {
		file_names(name, jn, ln);
		err = ctl_journal_vm(s, vm, NULL, NULL);
		if (!err && (err = ctl_unlink(s->vms, jn)) < 0)
			ctl_journal_vm(s, NULL, vm, NULL);
		if (err < 0)
			rv = ctl_fail(e, ctl_rv_from_errno(err), "removing VM \"%s\": %s", name,
				      strerror(-err));
	}
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
}
