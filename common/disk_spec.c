/* SPDX-License-Identifier: MIT */
/* The --disk grammar of disk_spec.h: one pass that unescapes and splits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "disk_spec.h"

static void option(struct rc_disk_option *o, const char *text)
{
	const char *eq = strchr(text, '=');

	o->text = text;
	o->value = eq ? eq + 1 : NULL;
	o->key_len = eq ? (size_t)(eq - text) : strlen(text);
}

int rc_disk_spec_parse(const char *s, struct rc_disk_spec *spec)
{
	const char *eq = strchr(s, '=');
	char *w, *part;

	memset(spec, 0, sizeof *spec);
	if (!eq || eq == s)
		return -EINVAL;
	spec->buf = w = malloc(strlen(s) + 1);
	if (!w)
		return -ENOMEM;
	memcpy(w, s, (size_t)(eq - s));
	w[eq - s] = '\0';
	spec->name = w;
	w += eq - s + 1;
	spec->target = part = w;
	for (const char *p = eq + 1;; p++) {
		if (*p == '\\' && (p[1] == ',' || p[1] == '\\')) {
			*w++ = *++p;
			continue;
		}
		if (*p && *p != ',') {
			*w++ = *p;
			continue;
		}
		*w++ = '\0';
		if (part != spec->target)
			option(&spec->opt[spec->n++], part);
		if (!*p)
			break;
		if (spec->n == RC_DISK_SPEC_MAX_OPTIONS)
			return -EINVAL;
		part = w;
	}
	return *spec->target ? 0 : -EINVAL;
}

void rc_disk_spec_free(struct rc_disk_spec *spec)
{
	free(spec->buf);
	spec->buf = NULL;
}

bool rc_disk_option_is(const struct rc_disk_option *o, const char *key)
{
	return strlen(key) == o->key_len && !strncmp(o->text, key, o->key_len);
}
