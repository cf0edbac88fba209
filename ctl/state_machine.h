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

#endif
