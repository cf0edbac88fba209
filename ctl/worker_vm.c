/* SPDX-License-Identifier: MIT */
/*
 * The worker's edits of the VM record, each under the VM's lock and saved
 * durably: the targets marked inconsistent before the first write, and at
 * the end their recovery point, generation and the VM's state and health.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "guid.h"
#include "job.h"
#include "recovery_point.h"
#include "state_machine.h"
#include "vm.h"
#include "worker_internal.h"

static pthread_mutex_t update_mu = PTHREAD_MUTEX_INITIALIZER;

/* Applies fn to the VM record under its lock and saves it durably: 0, or
 * the return value of the failure with the reason in why. */
uint32_t worker_update_vm(struct worker *w, void (*fn)(struct worker *, json_object *, void *),
			  void *arg, char *why, size_t n)
{
	const char *name = ctl_json_str(w->job, "VirtualSystem");
	json_object *vm = NULL;
	struct ctl_err e;
	uint32_t rv;
	int fd = -1;

	/* The disks' threads update the record too (a fall-back to compare):
	 * one at a time; each says why it failed in its own buffer. */
	pthread_mutex_lock(&update_mu);
	rv = ctl_vm_lock(&w->st, name, &fd, &e);
	if (!rv)
		rv = ctl_vm_load(&w->st, name, &vm, &e);
	if (!rv) {
		fn(w, vm, arg);
		rv = ctl_vm_save(&w->st, vm, &e);
	}
	if (rv) {
		worker_log(w, LOG_ERR, "updating VM %s: %s", name, e.msg);
		snprintf(why, n, "updating VM %s: %s", name, e.msg);
	}
	ctl_unlock(fd);
	pthread_mutex_unlock(&update_mu);
	json_object_put(vm);
	return rv;
}

/* From the first write until completion the targets are inconsistent, and
 * they no longer hold the generation or recovery point they were recorded
 * with.  Saved before the engine starts: a copy that cannot say so does not
 * write. */
void worker_vm_start_copy(struct worker *w, json_object *vm, void *arg)
{
	(void)arg;
	ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_OK);
	json_object_object_add(vm, "PrimaryHoldsRecoveryPoint", json_object_new_string(""));
	for (size_t i = 0; i < w->n; i++) {
		json_object *d = ctl_vm_disk(vm, w->disks[i].name);
		json_object_object_add(d, "Inconsistent", json_object_new_boolean(true));
		json_object_object_add(d, "TargetGenerationId", json_object_new_string(""));
		json_object_object_add(d, "PrimaryHoldsRecoveryPoint", json_object_new_string(""));
	}
}

static void new_generation(json_object *vm, const char *rp_id, const char *disk,
			   char hex[RC_GUID_HEX_LEN])
{
	json_object *rp = ctl_vm_rp(vm, rp_id), *rpdisks = json_object_object_get(rp, "Disks");
	uint8_t g[16];

	for (size_t i = 0; i < json_object_array_length(rpdisks); i++) {
		json_object *rd = json_object_array_get_idx(rpdisks, i);
		const char *gen = ctl_json_str(rd, "ImageGenerationId");
		if (!strcmp(ctl_json_str(rd, "Name"), disk) && gen && rc_guid_parse(gen, g) == 0) {
			rc_guid_hex(g, hex);
			return;
		}
	}
	/* Without a known generation for the image, a fresh one makes sure no
	 * older change record is ever trusted against this target; without
	 * randomness none ("": unknown, so the next failback compares). */
	if (rc_guid_random(g) < 0)
		hex[0] = '\0';
	else
		rc_guid_hex(g, hex);
}

/* Whether every disk of the VM, not only this job's, holds recovery point rp
 * consistently: only then is the VM's failback complete. */
static bool vm_all_disks_at(json_object *vm, const char *rp)
{
	json_object *disks = json_object_object_get(vm, "Disks");

	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		if (json_object_get_boolean(json_object_object_get(d, "Inconsistent")) ||
		    strcmp(ctl_json_str(d, "PrimaryHoldsRecoveryPoint") ?: "", rp))
			return false;
	}
	return true;
}

void worker_vm_finish(struct worker *w, json_object *vm, void *arg)
{
	uint32_t *outcome = arg;
	const char *rp = ctl_json_str(w->job, "RecoveryPoint");
	char hex[RC_GUID_HEX_LEN];

	for (size_t i = 0; i < w->n; i++) {
		json_object *d = ctl_vm_disk(vm, w->disks[i].name);
		if (!w->disks[i].done)
			continue;
		new_generation(vm, rp, w->disks[i].name, hex);
		json_object_object_add(d, "Inconsistent", json_object_new_boolean(false));
		json_object_object_add(d, "TargetGenerationId", json_object_new_string(hex));
		json_object_object_add(d, "PrimaryHoldsRecoveryPoint", json_object_new_string(rp));
		json_object_object_del(d, "Resume");
	}
	switch (*outcome) {
	case RESYNC_JOB_COMPLETED:
		/* A job over some of the disks completes its part; the VM's
		 * failback is complete only when all of them hold the point. */
		/* Only then does the primary hold one point and the VM no
		 * longer run on a failover's data: FailedOverTo is cleared
		 * (doc/resyncctl.md). */
		if (vm_all_disks_at(vm, rp)) {
			ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_COMPLETE, RESYNC_HEALTH_OK);
			json_object_object_add(vm, "PrimaryHoldsRecoveryPoint",
					       json_object_new_string(rp));
			json_object_object_add(vm, "FailedOverTo", json_object_new_string(""));
		} else
			ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS,
					 RESYNC_HEALTH_WARNING);
		break;
	case RESYNC_JOB_TERMINATED:
		ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_WARNING);
		break;
	default:
		ctl_vm_set_state(vm, RESYNC_STATE_FAILBACK_IN_PROGRESS, RESYNC_HEALTH_CRITICAL);
		break;
	}
}
