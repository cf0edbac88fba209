/* SPDX-License-Identifier: MIT */
/*
 * VM records (vms/NAME.json): replication mode, state and health, disks with
 * their targets, the generation id each target holds and whether it is
 * inconsistent, and the VM's recovery points (recovery_point.h).  Changes,
 * and the state machine's transitions (state_machine.h), are made under the
 * VM's lock (vms/NAME.lock); functions returning uint32_t return 0 or an
 * InitiateFailback return value with the reason in e.
 */
#ifndef CTL_VM_H
#define CTL_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "errmap.h"
#include "json_get.h"
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
uint32_t ctl_vm_add(struct ctl_store *s, const char *name, uint32_t mode, json_object *disks,
		    struct ctl_err *e);
/* 32773 when two of disks, or one of them and a disk of another VM in the
 * store, name the same target (compared by device and inode, not by path). */
uint32_t ctl_vm_check_targets(struct ctl_store *s, const char *name, json_object *disks,
			      struct ctl_err *e);
/* 32774 while a live job holds the VM. */
uint32_t ctl_vm_remove(struct ctl_store *s, const char *name, struct ctl_err *e);

/* 32774 when the VM's current job has a live worker. */
uint32_t ctl_vm_check_no_live_job(struct ctl_store *s, json_object *vm, struct ctl_err *e);

/* The disk of a loaded record by name; NULL when it has none. */
json_object *ctl_vm_disk(json_object *vm, const char *disk);

#endif
