/* SPDX-License-Identifier: MIT */
/*
 * VM records (vms/NAME.json): replication mode, state and health, disks with
 * their targets, the generation id each target holds and whether it is
 * inconsistent, and the VM's recovery points.  Transitions are made under the
 * VM's lock (vms/NAME.lock); functions returning uint32_t return 0 or an
 * InitiateFailback return value with the reason in e.
 */
#ifndef CTL_VM_H
#define CTL_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "errmap.h"
#include "store.h"

/* Loads vms/NAME.json: 0, or 32773 (unknown VM or bad name), 32771 (record unreadable). */
uint32_t ctl_vm_load(struct ctl_store *s, const char *name, json_object **vm, struct ctl_err *e);
/* 0, or the return value of the failed write. */
uint32_t ctl_vm_save(struct ctl_store *s, json_object *vm, struct ctl_err *e);
/* Takes the VM's lock, waiting; *fd is closed by ctl_unlock. */
uint32_t ctl_vm_lock(struct ctl_store *s, const char *name, int *fd, struct ctl_err *e);
void ctl_unlock(int fd);

/* Registers a VM; disks is an array of {Name, Target[, GenerationId]} and
 * is taken over.  32773 for an invalid or duplicate name, 32774 if it exists. */
uint32_t ctl_vm_add(struct ctl_store *s, const char *name, uint32_t mode,
		    json_object *disks, struct ctl_err *e);
/* 32773 when two of disks, or one of them and a disk of another VM in the
 * store, name the same target (compared by device and inode, not by path). */
uint32_t ctl_vm_check_targets(struct ctl_store *s, const char *name, json_object *disks,
			      struct ctl_err *e);
/* 32774 while a live job holds the VM. */
uint32_t ctl_vm_remove(struct ctl_store *s, const char *name, struct ctl_err *e);

/* Adds a recovery point {Id, CreationTime, Type, Disks: [{Name, Image[,
 * ChangeRecord]}]} (taken over): every disk of the VM exactly once. */
uint32_t ctl_rp_add(struct ctl_store *s, const char *vm, json_object *rp, struct ctl_err *e);
uint32_t ctl_rp_remove(struct ctl_store *s, const char *vm, const char *id, struct ctl_err *e);

/* Failover to a recovery point (NULL: latest): state 5 Recovered; commit: 5 -> 6. */
uint32_t ctl_failover(struct ctl_store *s, const char *vm, const char *rp, bool commit,
		      struct ctl_err *e);

/* Accessors on a loaded record. */
uint32_t ctl_json_u32(json_object *o, const char *key);
const char *ctl_json_str(json_object *o, const char *key);
json_object *ctl_vm_disk(json_object *vm, const char *disk);
/* The named recovery point, or the latest (by CreationTime, then order) for NULL/"". */
json_object *ctl_vm_rp(json_object *vm, const char *id);
/* State and health, stamping TimeOfLastStateChange. */
void ctl_vm_set_state(json_object *vm, uint32_t state, uint32_t health);
/* InitiateFailback's accepted starting points, ignoring liveness of jobs. */
bool ctl_vm_failback_state_ok(uint32_t mode, uint32_t state);

#endif
