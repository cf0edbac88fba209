/* SPDX-License-Identifier: MIT */
/* The failback settings JSON: see settings.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "settings.h"

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
	s->queue_depth = CTL_DEFAULT_QUEUE_DEPTH;
	s->request_size = CTL_DEFAULT_REQUEST_SIZE;
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

static uint32_t get_uint(json_object *v, const char *key, uint64_t min, uint64_t max, uint64_t *out,
			 struct ctl_err *e)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return wrong_type(e, key, "an integer");
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"settings: \"%s\" out of range (%llu..%llu)", key,
				(unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

static uint32_t get_string(json_object *v, const char *key, char **out, struct ctl_err *e)
{
	if (!json_object_is_type(v, json_type_string))
		return wrong_type(e, key, "a string");
	free(*out);
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
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
	s->disks = calloc(n, sizeof(char *));
	if (!s->disks)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v, i);
		uint32_t rv = get_string(d, "disks[]", &s->disks[i], e);
		s->ndisks = i + 1;
		if (rv)
			return rv;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->disks[j], s->disks[i]))
				return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
						"settings: disk \"%s\" listed twice", s->disks[i]);
	}
	return 0;
}

static uint32_t parse_key(const char *key, json_object *v, struct ctl_settings *s,
			  struct ctl_err *e)
{
	uint64_t n;
	uint32_t rv;

	if (!strcmp(key, "disks"))
		return parse_disks(v, s, e);
	if (!strcmp(key, "change_source")) {
		if (!json_object_is_type(v, json_type_string))
			return wrong_type(e, key, "a string");
		if (ctl_change_source_parse(json_object_get_string(v), &s->change_source) < 0)
			return ctl_fail(
				e, RESYNC_RV_INVALID_PARAMETER,
				"settings: \"change_source\" must be auto, bitmap, nbd-dirty, extents, compare or full");
		return 0;
	}
	if (!strcmp(key, "verify")) {
		if (!json_object_is_type(v, json_type_boolean))
			return wrong_type(e, key, "a boolean");
		s->verify = json_object_get_boolean(v);
		return 0;
	}
	if (!strcmp(key, "verify_sample_per_gib")) {
		rv = get_uint(v, key, 0, CTL_MAX_SAMPLE, &n, e);
		s->verify_sample_per_gib = (uint32_t)n;
		return rv;
	}
	if (!strcmp(key, "verify_sample_min")) {
		rv = get_uint(v, key, 0, CTL_MAX_SAMPLE, &n, e);
		s->verify_sample_min = (uint32_t)n;
		return rv;
	}
	if (!strcmp(key, "rate_limit")) {
		rv = get_uint(v, key, 0, INT64_MAX, &n, e);
		s->rate_limit = n;
		return rv;
	}
	if (!strcmp(key, "queue_depth")) {
		rv = get_uint(v, key, 1, 1024, &n, e);
		s->queue_depth = (unsigned)n;
		return rv;
	}
	if (!strcmp(key, "request_size")) {
		rv = get_uint(v, key, 4096, 64u << 20, &n, e);
		if (!rv && (n & (n - 1)))
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"settings: \"request_size\" must be a power of two");
		s->request_size = (uint32_t)n;
		return rv;
	}
	if (!strcmp(key, "memory_limit")) {
		rv = get_uint(v, key, CTL_MIN_MEMORY_LIMIT, INT64_MAX, &n, e);
		s->memory_limit = n;
		return rv;
	}
	if (!strcmp(key, "tls"))
		return parse_tls(v, s, e);
	if (!strcmp(key, "nbd_connect_timeout_ms")) {
		rv = get_uint(v, key, 0, 24u * 3600 * 1000, &n, e);
		s->nbd_connect_timeout_ms = (uint32_t)n;
		return rv;
	}
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

uint32_t ctl_settings_parse(const char *text, struct ctl_settings *s, struct ctl_err *e)
{
	json_tokener *tok;
	json_object *root;
	uint32_t rv = 0;
	size_t len;

	ctl_settings_init(s);
	if (!text)
		return 0;
	len = strlen(text);
	if (strspn(text, " \t\r\n") == len)
		return 0;
	tok = json_tokener_new();
	if (!tok)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
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
	json_object_object_add(o, "queue_depth", json_object_new_int64(s->queue_depth));
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
