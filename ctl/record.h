/* SPDX-License-Identifier: MIT */
/*
 * The shape of the store's records, checked whenever one is loaded, so a
 * hand-edited or corrupted record (a key missing, a number where a string
 * belongs, a value out of range, a name that could escape the store) is
 * refused as unreadable (32771) in one place instead of crashing or
 * misleading whatever reads it later.  Keys not listed are allowed, so
 * newer fields pass; listed keys must have their type and range.
 */
#ifndef CTL_RECORD_H
#define CTL_RECORD_H

#include <stddef.h>
#include <json-c/json.h>

/* 0, or -EBADMSG with what is wrong ("Disks[1].Target: not a string") in why. */
int ctl_vm_record_check(json_object *vm, const char *name, char *why, size_t n);
int ctl_job_record_check(json_object *job, const char *id, char *why, size_t n);

#endif
