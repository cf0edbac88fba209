/* SPDX-License-Identifier: MIT */
/*
 * --allowed-path PREFIX (doc/resyncd.md): when any is given, the disk paths
 * the API registers (a VM's Target, a recovery point's Image) and the
 * targets a failback through the API writes must lie under
 * one of them, or the call is refused with 32773 naming the path.  The
 * workers run as root, so without the rule an operator can have any block
 * device overwritten.  NBD URIs are not paths: the rule leaves them alone.
 */
#ifndef RESYNCD_PATHS_H
#define RESYNCD_PATHS_H

#include "daemon.h"

/* Adds an allowed prefix (an absolute path; trailing slashes dropped): 0,
 * or 1 with *why the reason. */
int rd_allowed_path_add(struct rd_config *c, const char *prefix, const char **why);
void rd_allowed_paths_free(struct rd_config *c);

/* For a method about to be dispatched: true when its paths are allowed (or
 * no rule is set); false with r filled (400, 32773, the path named).
 * body: the request's parsed body (NULL when it did not parse: the handler
 * answers that), vm: the VM of the path, if any. */
bool rd_paths_check(struct rd_daemon *d, json_object *body, const char *vm, struct rd_reply *r);

#endif
