/* SPDX-License-Identifier: MIT */
/* Typed reads of json-c objects: see json_get.h. */
#include "json_get.h"

uint32_t ctl_json_u32(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint32_t)json_object_get_int64(v) : 0;
}

const char *ctl_json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void ctl_json_rename(json_object *o, const char *old_key, const char *new_key)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, old_key, &v))
		return;
	if (!json_object_object_get_ex(o, new_key, NULL))
		json_object_object_add(o, new_key, json_object_get(v));
	json_object_object_del(o, old_key);
}
