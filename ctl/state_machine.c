/* SPDX-License-Identifier: MIT */
/*
 * The VM's replication state machine outside a failback job: state and
 * health changes, which states InitiateFailback starts from, and failover
 * (and its commit) to a recovery point.  The job's own transitions are in
 * worker_vm.c.
 */
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
	json_object_object_add(vm, "FailedOverTo", json_object_new_string(ctl_json_str(rp, "Id")));
	ctl_vm_set_state(vm, RESYNC_STATE_RECOVERED, RESYNC_HEALTH_OK);
	rv = ctl_vm_save(s, vm, e);
out:
	ctl_unlock(fd);
	json_object_put(vm);
	return rv;
}
