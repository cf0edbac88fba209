/* SPDX-License-Identifier: MIT */
/*
 * Typed reads of a field of a loaded record (VM, job, settings), for code
 * that has already validated the record (record.c): a missing or mistyped
 * field reads as 0 or NULL rather than failing.
 */
#ifndef CTL_JSON_GET_H
#define CTL_JSON_GET_H

#include <stdint.h>
#include <json-c/json.h>

/* The integer field as uint32_t; 0 when absent. */
uint32_t ctl_json_u32(json_object *o, const char *key);
/* The string field; NULL when absent or not a string. */
const char *ctl_json_str(json_object *o, const char *key);

/* Moves o's old_key to new_key when new_key is absent (a record of an
 * older schema read under the current names); old_key goes in any case. */
void ctl_json_rename(json_object *o, const char *old_key, const char *new_key);

#endif
