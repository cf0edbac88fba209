/* SPDX-License-Identifier: MIT */
/*
 * A VM's recovery points: {Id, CreationTime, CreationTimeEpoch, Type, Disks:
 * [{Name, Image[, GenerationId][, ChangeRecord]}]} in the VM record's
 * RecoveryPoints array.  Functions returning uint32_t return 0 or an
 * InitiateFailback return value with the reason in e.
 */
#ifndef CTL_RECOVERY_POINT_H
#define CTL_RECOVERY_POINT_H

#include <json-c/json.h>
#include "errmap.h"
#include "store.h"

/* The named recovery point, or the latest (by CreationTime, then order) for NULL/"". */
json_object *ctl_vm_rp(json_object *vm, const char *id);
/* Adds a recovery point {Id, CreationTime, Type, Disks: [{Name, Image[,
 * ChangeRecord]}]} (taken over): every disk of the VM exactly once.  After
 * failover a disk without a ChangeRecord gets {Kind: "track", Path} of the
 * VM disk's TrackingLog, when failover recorded one. */
uint32_t ctl_rp_add(struct ctl_store *s, const char *vm, json_object *rp, struct ctl_err *e);
/* 32774 while a live job holds the VM. */
uint32_t ctl_rp_remove(struct ctl_store *s, const char *vm, const char *id, struct ctl_err *e);

#endif
