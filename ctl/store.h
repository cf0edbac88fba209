/* SPDX-License-Identifier: MIT */
/*
 * The state store: a directory (mode 0700) holding vms/NAME.json and
 * vms/NAME.lock, and jobs/ID/{job.json,lock,log,DISK.ckpt}.  Records are JSON
 * written atomically and durably (temp file, fsync, rename, fsync directory);
 * every open refuses symlinks, and names are validated so nothing escapes.
 * Functions return 0 or a negative errno.
 */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include <stdbool.h>
#include <json-c/json.h>

#define CTL_DEFAULT_STATE_DIR "/var/lib/resync"
#define CTL_NAME_MAX 64

struct ctl_store {
	int root;
	int vms;
	int jobs;
	char path[4096];
};

/* $RESYNC_STATE_DIR, else the default. */
const char *ctl_store_default_path(void);
/* Opens (creating with mode 0700 where missing) the store at path. */
int ctl_store_open(struct ctl_store *s, const char *path);
void ctl_store_close(struct ctl_store *s);

/* 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool ctl_name_valid(const char *name);

/* -ENOENT when absent, -ELOOP for a symlink, -EBADMSG when not JSON. */
int ctl_read_json(int dirfd, const char *name, json_object **out);
int ctl_write_json(int dirfd, const char *name, json_object *obj);

/* flock(LOCK_EX) on dirfd/name, created when missing; wait false gives
 * -EWOULDBLOCK when another open file holds it.  *fdp is the lock's fd. */
int ctl_lock(int dirfd, const char *name, bool wait, int *fdp);
/* 1 when some process holds the lock, 0 when free or absent. */
int ctl_lock_held(int dirfd, const char *name);

/* mkdirat 0700 (-EEXIST when present) and an O_NOFOLLOW directory open. */
int ctl_mkdir(int dirfd, const char *name);
int ctl_open_dir(int dirfd, const char *name);
/* Removes dirfd/name and the plain files in it. */
int ctl_remove_dir(int dirfd, const char *name);
/* Removes dirfd/name (a file) and makes that durable; absent is fine. */
int ctl_unlink(int dirfd, const char *name);

/* "2026-11-25T06:10:23Z" for t. */
void ctl_format_time(long long t, char buf[32]);
long long ctl_now(void);

#endif
