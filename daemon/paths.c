/* SPDX-License-Identifier: MIT */
/* Registered disk paths against --allowed-path (paths.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "json_get.h"
#include "json_reply.h"
#include "paths.h"

int rd_allowed_path_add(struct rd_config *c, const char *prefix, const char **why)
{
	size_t n = strlen(prefix);
	char **v;

	if (prefix[0] != '/') {
		*why = "wants an absolute path";
		return 1;
	}
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	v = realloc(c->allowed_paths, (c->n_allowed_paths + 1) * sizeof(*v));
	if (!v || !(v[c->n_allowed_paths] = strndup(prefix, n))) {
		if (v)
			c->allowed_paths = v;
		*why = "out of memory";
		return 1;
	}
	c->allowed_paths = v;
	c->n_allowed_paths++;
	return 0;
}

void rd_allowed_paths_free(struct rd_config *c)
{
	for (size_t i = 0; i < c->n_allowed_paths; i++)
		free(c->allowed_paths[i]);
	free(c->allowed_paths);
	c->allowed_paths = NULL;
	c->n_allowed_paths = 0;
}

/* Whether path is prefix or below it, on a component boundary. */
static bool under_one(const struct rd_config *c, const char *path)
{
	for (size_t i = 0; i < c->n_allowed_paths; i++) {
		const char *p = c->allowed_paths[i];
		size_t n = strlen(p);
		if (n == 1 || (!strncmp(path, p, n) && (path[n] == '/' || path[n] == '\0')))
			return true;
	}
	return false;
}

/* An absolute path without "." or ".." components, under a prefix as
 * written and, for the part that exists (the file, else its folder),
 * once symbolic links are resolved. */
static bool allowed(const struct rd_config *c, const char *path)
{
	char real[PATH_MAX], dir[PATH_MAX], *slash;

	if (path[0] != '/' || strstr(path, "/./") || strstr(path, "/../") ||
	    (strlen(path) >= 2 && !strcmp(path + strlen(path) - 2, "/.")) ||
	    (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")) || !under_one(c, path))
		return false;
	if (realpath(path, real))
		return under_one(c, real);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		return under_one(c, "/");
	*slash = '\0';
	return !realpath(dir, real) || under_one(c, real);
}

/* Checks key of each of disks' objects; false with r filled. */
static bool check_disks(const struct rd_config *c, json_object *disks, const char *key,
			const char *what, struct rd_reply *r)
{
	for (size_t i = 0;
	     json_object_is_type(disks, json_type_array) && i < json_object_array_length(disks);
	     i++) {
		const char *p = ctl_json_str(json_object_array_get_idx(disks, i), key);
		if (!p || strstr(p, "://") || allowed(c, p))
			continue;
		rd_reply_status(r, 400, RESYNC_RV_INVALID_PARAMETER,
				"%s \"%s\" is not under an --allowed-path of resyncd", what, p);
		return false;
	}
	return true;
}

bool rd_paths_check(struct rd_daemon *d, json_object *body, const char *vm, struct rd_reply *r)
{
	char file[CTL_NAME_MAX + 8];
	json_object *rec = NULL;
	bool ok;

	if (!d->cfg.n_allowed_paths)
		return true;
	if (body &&
	    (!check_disks(&d->cfg, json_object_object_get(body, "Disks"), "Target", "Target", r) ||
	     !check_disks(&d->cfg, json_object_object_get(body, "Disks"), "Image", "Image", r)))
		return false;
	if (!vm)
		return true;
	/* The VM's targets, however they were registered (resyncctl too):
	 * what a failback through the daemon writes. */
	snprintf(file, sizeof(file), "%s.json", vm);
	if (ctl_read_json(d->store.vms, file, &rec) < 0)
		return true; /* the handler answers a VM it cannot read */
	ok = check_disks(&d->cfg, json_object_object_get(rec, "Disks"), "Target", "Target", r);
	json_object_put(rec);
	return ok;
}
