/* SPDX-License-Identifier: MIT */
/*
 * The --disk grammar of resyncctl's `vm add` and `recovery-point add` (names
 * prefixed rc_, "resync common"; compiled into libresync, not exported from
 * the shared library):
 *
 *   SPEC   := NAME "=" TARGET { "," OPTION }
 *   OPTION := KEY [ "=" VALUE ]
 *
 * NAME is everything before the first '='; TARGET and the OPTIONs are split
 * at the unescaped commas, and inside them "\," stands for "," and "\\" for
 * "\" (any other backslash is itself), so a path or URI may hold a comma.
 * NAME and TARGET may not be empty; an OPTION may (the caller refuses it).
 * Which KEYs exist and what their VALUEs mean is the caller's.
 */
#ifndef RESYNC_COMMON_DISK_SPEC_H
#define RESYNC_COMMON_DISK_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RC_DISK_SPEC_MAX_OPTIONS 14

struct rc_disk_option {
	const char *text;  /* the whole OPTION, unescaped: for messages */
	const char *value; /* after the first '=', or NULL without one */
	size_t key_len;    /* KEY is text[0 .. key_len) */
};

struct rc_disk_spec {
	char *buf; /* holds every string below; rc_disk_spec_free() */
	const char *name, *target;
	size_t n;
	struct rc_disk_option opt[RC_DISK_SPEC_MAX_OPTIONS];
};

/* 0 with *spec filled; -EINVAL without '=', for an empty NAME or TARGET, or
 * more than RC_DISK_SPEC_MAX_OPTIONS options; -ENOMEM.  *spec needs
 * rc_disk_spec_free() whatever the return. */
int rc_disk_spec_parse(const char *s, struct rc_disk_spec *spec);
void rc_disk_spec_free(struct rc_disk_spec *spec);
/* Whether the option's KEY is key ("key=..." or "key" alone). */
bool rc_disk_option_is(const struct rc_disk_option *o, const char *key);

#ifdef __cplusplus
}
#endif

#endif
