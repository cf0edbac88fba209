/* SPDX-License-Identifier: MIT */
/* The failback settings: the one entry point, the JSON front end and the
 * checked setters both front ends store through (see settings.h and
 * settings_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "settings.h"
#include "settings_internal.h"

static const char *const cs_names[] = {
	[CTL_CS_AUTO] = "auto",           [CTL_CS_BITMAP] = "bitmap",
	[CTL_CS_NBD_DIRTY] = "nbd-dirty", [CTL_CS_EXTENTS] = "extents",
	[CTL_CS_COMPARE] = "compare",     [CTL_CS_FULL] = "full",
};

const char *ctl_change_source_name(enum ctl_change_source cs)
{
	return cs_names[cs];
}

int ctl_change_source_parse(const char *name, enum ctl_change_source *out)
{
	for (size_t i = 0; i < sizeof(cs_names) / sizeof(cs_names[0]); i++) {
		if (!strcmp(name, cs_names[i])) {
			*out = (enum ctl_change_source)i;
			return 0;
		}
	}
	return -EINVAL;
}

void ctl_settings_init(struct ctl_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->change_source = CTL_CS_AUTO;
	s->memory_limit = CTL_DEFAULT_MEMORY_LIMIT;
	s->verify_sample_per_gib = CTL_DEFAULT_SAMPLE_PER_GIB;
	s->verify_sample_min = CTL_DEFAULT_SAMPLE_MIN;
}

void ctl_settings_free(struct ctl_settings *s)
{
	for (size_t i = 0; i < s->ndisks; i++)
		free(s->disks[i]);
	free(s->disks);
	free(s->tls_certificates);
	free(s->tls_psk_file);
	free(s->tls_username);
	ctl_settings_init(s);
}

static uint32_t wrong_type(struct ctl_err *e, const char *key, const char *want)
{
	return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE, "settings: \"%s\" must be %s", key, want);
}

static uint32_t oom(struct ctl_err *e)
{
	return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
}

/* The integer settings and their ranges: one table for both front ends. */
static const struct uint_key {
	enum ctl_settings_uint key;
	uint64_t min, max;
	bool pow2;
} uint_keys[] = {
	{ CTL_SU_VERIFY_SAMPLE_PER_GIB, 0, CTL_MAX_SAMPLE, false },
	{ CTL_SU_VERIFY_SAMPLE_MIN, 0, CTL_MAX_SAMPLE, false },
	{ CTL_SU_RATE_LIMIT, 0, INT64_MAX, false },
	{ CTL_SU_QUEUE_DEPTH, 1, 1024, false },
	{ CTL_SU_REQUEST_SIZE, 4096, 64u << 20, true },
	{ CTL_SU_NBD_CONNECT_TIMEOUT_MS, 0, 24u * 3600 * 1000, false },
	{ CTL_SU_MEMORY_LIMIT, CTL_MIN_MEMORY_LIMIT, INT64_MAX, false },
};

uint32_t ctl_settings_set_uint(struct ctl_settings *s, enum ctl_settings_uint key, const char *name,
			       uint64_t n, struct ctl_err *e)
{
	const struct uint_key *k = &uint_keys[key];

	if (n < k->min || n > k->max)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"settings: \"%s\" out of range (%llu..%llu)", name,
				(unsigned long long)k->min, (unsigned long long)k->max);
	if (k->pow2 && (n & (n - 1)))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"settings: \"%s\" must be a power of two", name);
	switch (key) {
	case CTL_SU_VERIFY_SAMPLE_PER_GIB:
		s->verify_sample_per_gib = (uint32_t)n;
		break;
	case CTL_SU_VERIFY_SAMPLE_MIN:
		s->verify_sample_min = (uint32_t)n;
		break;
	case CTL_SU_RATE_LIMIT:
		s->rate_limit = n;
		break;
	case CTL_SU_QUEUE_DEPTH:
		s->queue_depth = (unsigned)n;
		break;
	case CTL_SU_REQUEST_SIZE:
		s->request_size = (uint32_t)n;
		break;
	case CTL_SU_NBD_CONNECT_TIMEOUT_MS:
		s->nbd_connect_timeout_ms = (uint32_t)n;
		break;
	case CTL_SU_MEMORY_LIMIT:
		s->memory_limit = n;
		break;
	}
	return 0;
}

uint32_t ctl_settings_set_change_source(struct ctl_settings *s, const char *name, const char *value,
					struct ctl_err *e)
{
	if (ctl_change_source_parse(value, &s->change_source) < 0)
		return ctl_fail(
			e, RESYNC_RV_INVALID_PARAMETER,
			"settings: \"%s\" must be auto, bitmap, nbd-dirty, extents, compare or full",
			name);
	return 0;
}

uint32_t ctl_settings_set_string(char **field, const char *value, struct ctl_err *e)
{
	char *v = strdup(value);

	if (!v)
		return oom(e);
	free(*field);
	*field = v;
	return 0;
}

uint32_t ctl_settings_add_disk(struct ctl_settings *s, const char *name, struct ctl_err *e)
{
	char **nd;

	for (size_t j = 0; j < s->ndisks; j++)
		if (!strcmp(s->disks[j], name))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"settings: disk \"%s\" listed twice", name);
	nd = realloc(s->disks, (s->ndisks + 1) * sizeof(char *));
	if (!nd)
		return oom(e);
	s->disks = nd;
	s->disks[s->ndisks] = strdup(name);
	if (!s->disks[s->ndisks])
		return oom(e);
	s->ndisks++;
	return 0;
}

static uint32_t get_uint(json_object *v, const char *key, enum ctl_settings_uint k,
			 struct ctl_settings *s, struct ctl_err *e)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return wrong_type(e, key, "an integer");
	n = json_object_get_int64(v);
	if (n < 0)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"settings: \"%s\" out of range (%llu..%llu)", key,
				(unsigned long long)uint_keys[k].min,
				(unsigned long long)uint_keys[k].max);
	return ctl_settings_set_uint(s, k, key, (uint64_t)n, e);
}

static uint32_t get_string(json_object *v, const char *key, char **out, struct ctl_err *e)
{
	if (!json_object_is_type(v, json_type_string))
		return wrong_type(e, key, "a string");
	return ctl_settings_set_string(out, json_object_get_string(v), e);
}

static uint32_t parse_tls(json_object *tls, struct ctl_settings *s, struct ctl_err *e)
{
	uint32_t rv = 0;

	if (!json_object_is_type(tls, json_type_object))
		return wrong_type(e, "tls", "an object");
	json_object_object_foreach(tls, key, v)
	{
		if (!strcmp(key, "certificates"))
			rv = get_string(v, "tls.certificates", &s->tls_certificates, e);
		else if (!strcmp(key, "psk_file"))
			rv = get_string(v, "tls.psk_file", &s->tls_psk_file, e);
		else if (!strcmp(key, "username"))
			rv = get_string(v, "tls.username", &s->tls_username, e);
		else
			rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				      "settings: unknown key \"tls.%s\"", key);
		if (rv)
			return rv;
	}
	if (s->tls_certificates && s->tls_psk_file)
		return ctl_fail(
			e, RESYNC_RV_INVALID_PARAMETER,
			"settings: \"tls.certificates\" and \"tls.psk_file\" exclude each other");
	return 0;
}

static uint32_t parse_disks(json_object *v, struct ctl_settings *s, struct ctl_err *e)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return wrong_type(e, "disks", "an array of disk names");
	n = json_object_array_length(v);
	if (n == 0)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "settings: \"disks\" is empty");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v, i);
		uint32_t rv;

		if (!json_object_is_type(d, json_type_string))
			return wrong_type(e, "disks[]", "a string");
		rv = ctl_settings_add_disk(s, json_object_get_string(d), e);
		if (rv)
			return rv;
	}
	return 0;
}

static const struct {
	const char *key;
	enum ctl_settings_uint k;
} json_uints[] = {
	{ "verify_sample_per_gib", CTL_SU_VERIFY_SAMPLE_PER_GIB },
	{ "verify_sample_min", CTL_SU_VERIFY_SAMPLE_MIN },
	{ "rate_limit", CTL_SU_RATE_LIMIT },
	{ "queue_depth", CTL_SU_QUEUE_DEPTH },
	{ "request_size", CTL_SU_REQUEST_SIZE },
	{ "nbd_connect_timeout_ms", CTL_SU_NBD_CONNECT_TIMEOUT_MS },
	{ "memory_limit", CTL_SU_MEMORY_LIMIT },
};

static uint32_t parse_key(const char *key, json_object *v, struct ctl_settings *s,
			  struct ctl_err *e)
{
	if (!strcmp(key, "disks"))
		return parse_disks(v, s, e);
	if (!strcmp(key, "change_source")) {
		if (!json_object_is_type(v, json_type_string))
			return wrong_type(e, key, "a string");
		return ctl_settings_set_change_source(s, key, json_object_get_string(v), e);
	}
	if (!strcmp(key, "verify")) {
		if (!json_object_is_type(v, json_type_boolean))
			return wrong_type(e, key, "a boolean");
		s->verify = json_object_get_boolean(v);
		return 0;
	}
	for (size_t i = 0; i < sizeof(json_uints) / sizeof(json_uints[0]); i++)
		if (!strcmp(key, json_uints[i].key))
			return get_uint(v, key, json_uints[i].k, s, e);
	if (!strcmp(key, "tls"))
		return parse_tls(v, s, e);
	return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "settings: unknown key \"%s\"", key);
}

/* Where the text stopped being JSON, as line and column (from 1), and why:
 * json-c's own text for a truncated value is just "continue". */
static uint32_t not_json(const char *text, json_tokener *tok, struct ctl_err *e)
{
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok), line = 1, col = 1;
	const char *why = json_tokener_error_desc(err);

	if (err == json_tokener_continue) {
		end = strlen(text);
		why = "the text ends inside a value";
	} else if (err == json_tokener_success) {
		end += strspn(text + end, " \t\r\n");
		why = "text after the JSON value";
	}
	for (size_t i = 0; i < end && text[i]; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
			"settings: not JSON at line %zu, column %zu: %s", line, col, why);
}

static uint32_t parse_json(const char *text, size_t len, struct ctl_settings *s, struct ctl_err *e)
{
	json_tokener *tok;
	json_object *root;
	uint32_t rv = 0;

	tok = json_tokener_new();
	if (!tok)
		return oom(e);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) +
			    strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") !=
		    len) {
		rv = not_json(text, tok, e);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		rv = ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE, "settings: not a JSON object");
		goto out;
	}
	json_object_object_foreach(root, key, v)
	{
		rv = parse_key(key, v, s, e);
		if (rv)
			break;
	}
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rv;
}

uint32_t ctl_settings_parse(const char *text, struct ctl_settings *s, struct ctl_err *e)
{
	uint32_t rv;
	size_t len, lead;

	ctl_settings_init(s);
	if (!text)
		return 0;
	len = strlen(text);
	lead = strspn(text, " \t\r\n");
	if (lead == len)
		return 0;
	if (len > CTL_SETTINGS_MAX_LEN)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"settings: %zu bytes, more than the %u a settings document may have",
				len, CTL_SETTINGS_MAX_LEN);
	if (text[lead] == '<')
		rv = ctl_settings_parse_cimxml(text, len, s, e);
	else
		rv = parse_json(text, len, s, e);
	if (rv)
		ctl_settings_free(s);
	return rv;
}

json_object *ctl_settings_to_json(const struct ctl_settings *s)
{
	json_object *o = json_object_new_object();
	json_object *tls = json_object_new_object();

	if (!o || !tls) {
		json_object_put(o);
		json_object_put(tls);
		return NULL;
	}
	if (s->disks) {
		json_object *d = json_object_new_array();
		for (size_t i = 0; i < s->ndisks; i++)
			json_object_array_add(d, json_object_new_string(s->disks[i]));
		json_object_object_add(o, "disks", d);
	}
	json_object_object_add(o, "change_source",
			       json_object_new_string(ctl_change_source_name(s->change_source)));
	json_object_object_add(o, "verify", json_object_new_boolean(s->verify));
	json_object_object_add(o, "verify_sample_per_gib",
			       json_object_new_int64(s->verify_sample_per_gib));
	json_object_object_add(o, "verify_sample_min", json_object_new_int64(s->verify_sample_min));
	json_object_object_add(o, "rate_limit", json_object_new_int64((int64_t)s->rate_limit));
	/* Absent is "the engine chooses": 0 would not parse back (1..1024). */
	if (s->queue_depth)
		json_object_object_add(o, "queue_depth", json_object_new_int64(s->queue_depth));
	if (s->request_size)
		json_object_object_add(o, "request_size", json_object_new_int64(s->request_size));
	if (s->tls_certificates)
		json_object_object_add(tls, "certificates",
				       json_object_new_string(s->tls_certificates));
	if (s->tls_psk_file)
		json_object_object_add(tls, "psk_file", json_object_new_string(s->tls_psk_file));
	if (s->tls_username)
		json_object_object_add(tls, "username", json_object_new_string(s->tls_username));
	json_object_object_add(o, "tls", tls);
	json_object_object_add(o, "memory_limit", json_object_new_int64((int64_t)s->memory_limit));
	json_object_object_add(o, "nbd_connect_timeout_ms",
			       json_object_new_int64(s->nbd_connect_timeout_ms));
	return o;
}
