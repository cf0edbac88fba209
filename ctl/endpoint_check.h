/* SPDX-License-Identifier: MIT */
/*
 * Checks an endpoint before a job is started, so InitiateFailback can refuse
 * with the precise return value instead of failing later in the worker:
 * existence (32779), access (32769), in use (32774), reachability of NBD
 * servers (32777, 32772 on a connect timeout), capabilities such as a
 * writable export or a dirty-bitmap context (32770), and the size.
 */
#ifndef CTL_ENDPOINT_CHECK_H
#define CTL_ENDPOINT_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include "errmap.h"
#include "settings.h"

struct ctl_endpoint_check {
	uint64_t size;
	bool is_nbd;
	bool is_block;
};

/* role: "image" or "target" for messages; write: must be writable;
 * meta: an NBD metadata context that must exist (NULL: none). */
uint32_t ctl_endpoint_check(const char *name, const char *role, bool write, const char *meta,
			    const struct ctl_settings *set, struct ctl_endpoint_check *out,
			    struct ctl_err *e);

#endif
