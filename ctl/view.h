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

/* Every readable VM record of the store, sorted by Name; a record that
 * does not load is left out (vm show names what is wrong with it). */
uint32_t ctl_vm_list(struct ctl_store *s, json_object **vms, struct ctl_err *e);

#endif
