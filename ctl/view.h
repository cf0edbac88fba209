/* SPDX-License-Identifier: MIT */
/*
 * The JSON views both front ends give (resyncctl --json and resyncd): built
 * here once, printed or served by the caller.  Functions return 0 or an
 * InitiateFailback return value with the reason in e.
 */
#ifndef CTL_VIEW_H
#define CTL_VIEW_H

#include <stdint.h>
#include <json-c/json.h>
#include "errmap.h"
#include "store.h"

/* The version of the JSON schema of every reply (doc/openapi.yaml,
 * components/schemas; NEWS lists what changed from one to the next). */
#define CTL_SCHEMA_VERSION 2

/* A top-level reply: ReturnValue, SchemaVersion, ErrorDescription when rv
 * is a failure and e says why, then out's keys (out stays the caller's). */
json_object *ctl_view_reply(uint32_t rv, json_object *out, const struct ctl_err *e);

/* The view of a job just started or waited for: JobId, JobReference (the
 * job's /v1/jobs/ path) and Job, the record; job is taken, or loaded from
 * s when NULL (left out if it does not load). */
json_object *ctl_view_job_started(struct ctl_store *s, const char *id, json_object *job);

/* vm show's view: VirtualSystem, the VM's name (the key means a name in
 * every reply), and Vm, the record (taken). */
json_object *ctl_view_vm(json_object *rec);

/* vm list's view: Vms, the records (taken; NULL gives []). */
json_object *ctl_view_vms(json_object *recs);

/* Every readable VM record of the store, sorted by Name; a record that
 * does not load is left out (vm show names what is wrong with it). */
uint32_t ctl_vm_list(struct ctl_store *s, json_object **vms, struct ctl_err *e);

#endif
