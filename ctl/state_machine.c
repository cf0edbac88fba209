/* SPDX-License-Identifier: MIT */
/*
 * The VM's replication state machine outside a failback job: state and
 * health changes, which states InitiateFailback starts from, and failover
 * (and its commit) to a recovery point, recording where each tracked disk's
 * tracking log lives.  The job's own transitions are in worker_vm.c.
 */
#include <string.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "recovery_point.h"
#include "state_machine.h"
#include "vm.h"

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

/* 32773 unless every entry of tracks names a distinct disk of vm whose
 * target has a generation, by an absolute path. */
static uint32_t check_tracks(json_object *vm, const struct ctl_track_log *tracks, size_t n,
			     struct ctl_err *e)
{
	for (size_t i = 0; i < n; i++) {
		json_object *d = ctl_vm_disk(vm, tracks[i].disk);
		const char *gen;
		if (!d)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"--track: VM has no disk \"%s\"", tracks[i].disk);
		gen = ctl_json_str(d, "TargetGenerationId");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(tracks[i].disk, tracks[j].disk))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"--track: disk \"%s\" given twice", tracks[i].disk);
		if (tracks[i].path[0] != '/' || strlen(tracks[i].path) > 4095)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"--track %s: the tracking log's path must be absolute "
					"(at most 4095 bytes), not \"%s\"",
					tracks[i].disk, tracks[i].path);
		if (!gen || !*gen)
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"--track %s: the target has no recorded generation, so a "
					"tracking log would have no base (vm add --disk "
					"%s=TARGET,generation=HEX records one)",
					tracks[i].disk, tracks[i].disk);
	}
	return 0;
}

/* Each disk's TrackingLog as tracks say; a disk not named forgets its old
 * one, whose base is no longer what failback needs to know. */
static void record_tracks(json_object *vm, const struct ctl_track_log *tracks, size_t n)
{
	json_object *disks = json_object_object_get(vm, "Disks");
	char ts[32];

	ctl_format_time(ctl_now(), ts);
	for (size_t i = 0; i < json_object_array_length(disks); i++)
		json_object_object_del(json_object_array_get_idx(disks, i), "TrackingLog");
	for (size_t i = 0; i < n; i++) {
		json_object *d = ctl_vm_disk(vm, tracks[i].disk), *tl = json_object_new_object();
		json_object_object_add(tl, "Path", json_object_new_string(tracks[i].path));
		json_object_object_add(tl, "BaseGenerationId",
				       json_object_new_string(
					       ctl_json_str(d, "TargetGenerationId")));
		json_object_object_add(tl, "RecordedAt", json_object_new_string(ts));
		json_object_object_add(d, "TrackingLog", tl);
	}
}

uint32_t ctl_failover(struct ctl_store *s, const char *name, const char *id, bool commit,
		      struct ctl_err *e)
{
	return ctl_failover_tracked(s, name, id, commit, NULL, 0, e);
}

uint32_t ctl_failover_tracked(struct ctl_store *s, const char *name, const char *id, bool commit,
			      const struct ctl_track_log *tracks, size_t n, struct ctl_err *e)
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
	if (commit && n) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
			      "--track belongs to the failover, not to its commit");
		goto out;
	}
	if (commit) {
		if (mode != RESYNC_MODE_REPLICA || state != RESYNC_STATE_RECOVERED) {
			rv = ctl_fail(
				e, RESYNC_RV_INVALID_STATE,
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
		rv = ctl_fail(
			e, RESYNC_RV_INVALID_STATE,
			"failover needs a Replica VM in a replicating or recovered state (mode %u, state %u)",
			mode, state);
		goto out;
	}
	rp = ctl_vm_rp(vm, id);
	if (!rp) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
			      id && *id ? "unknown recovery point \"%s\"" :
					  "VM has no recovery point%s",
			      id && *id ? id : "");
		goto out;
	}
	rv = check_tracks(vm, tracks, n, e);
	if (rv)
		goto out;
	record_tracks(vm, tracks, n);
	json_object_object_add(vm, "FailedOverTo", json_object_new_string(ctl_json_str(rp, "Id")));
	ctl_vm_set_state(vm, RESYNC_STATE_RECOVERED, RESYNC_HEALTH_OK);
	rv = ctl_vm_save(s, vm, e);
out:
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
}
