/* SPDX-License-Identifier: MIT */
/*
 * The VM's replication state machine (Msvm_ReplicationService semantics,
 * see doc/resyncctl.md): ReplicationState and ReplicationHealth of a VM
 * record.  Functions returning uint32_t return 0 or an InitiateFailback
 * return value with the reason in e.
 */
#ifndef CTL_STATE_MACHINE_H
#define CTL_STATE_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "errmap.h"
#include "store.h"

/* State and health, stamping TimeOfLastStateChange. */
void ctl_vm_set_state(json_object *vm, uint32_t state, uint32_t health);
/* InitiateFailback's accepted starting points, ignoring liveness of jobs. */
bool ctl_vm_failback_state_ok(uint32_t mode, uint32_t state);
/* Failover to a recovery point (NULL: latest): state 5 Recovered; commit: 5 -> 6. */
uint32_t ctl_failover(struct ctl_store *s, const char *vm, const char *rp, bool commit,
		      struct ctl_err *e);

/* Where the server of a recovery VM's disk keeps its tracking log. */
struct ctl_track_log {
	const char *disk;
	const char *path; /* absolute */
};
/* ctl_failover() that also records, for each of the n disks of tracks, the
 * log's path and the generation the target holds as its base (the disk's
 * TrackingLog {Path, BaseGenerationId, RecordedAt}); a disk not in tracks
 * forgets any earlier log.  32773 for an unknown disk, one given twice, a
 * relative path, a disk whose target has no recorded generation (a log
 * would have no base), or tracks with commit. */
uint32_t ctl_failover_tracked(struct ctl_store *s, const char *vm, const char *rp, bool commit,
			      const struct ctl_track_log *tracks, size_t n, struct ctl_err *e);

#endif
