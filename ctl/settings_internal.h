/* SPDX-License-Identifier: MIT */
/*
 * Between the settings entry point and its two front ends (settings.c: JSON,
 * settings_cimxml.c: CIM-XML): the checked setters both store through, so a
 * range is written once, and the CIM-XML parser.  name is what a message
 * calls the value (a JSON key or a CIM property); each setter returns 0,
 * 32773 (out of range, a disk twice) or 32778 (out of memory).
 */
#ifndef CTL_SETTINGS_INTERNAL_H
#define CTL_SETTINGS_INTERNAL_H

#include "settings.h"

enum ctl_settings_uint {
	CTL_SU_VERIFY_SAMPLE_PER_GIB,
	CTL_SU_VERIFY_SAMPLE_MIN,
	CTL_SU_RATE_LIMIT,
	CTL_SU_QUEUE_DEPTH,
	CTL_SU_REQUEST_SIZE,
	CTL_SU_NBD_CONNECT_TIMEOUT_MS,
	CTL_SU_MEMORY_LIMIT,
};

uint32_t ctl_settings_set_uint(struct ctl_settings *s, enum ctl_settings_uint key, const char *name,
			       uint64_t n, struct ctl_err *e);
uint32_t ctl_settings_set_change_source(struct ctl_settings *s, const char *name, const char *value,
					struct ctl_err *e);
/* Replaces *field with a copy of value. */
uint32_t ctl_settings_set_string(char **field, const char *value, struct ctl_err *e);
/* Appends a disk name; a name already listed is 32773. */
uint32_t ctl_settings_add_disk(struct ctl_settings *s, const char *name, struct ctl_err *e);

/* text (len bytes, NUL-terminated, at most CTL_SETTINGS_MAX_LEN) is an
 * INSTANCE of Msvm_ReplicationSettingData; fills s (initialized by the
 * caller, freed by it on failure); 0, 32773 or 32776. */
uint32_t ctl_settings_parse_cimxml(const char *text, size_t len, struct ctl_settings *s,
				   struct ctl_err *e);

#endif
