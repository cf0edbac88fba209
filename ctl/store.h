/* SPDX-License-Identifier: MIT */
/*
 * The state store: a directory (mode 0700) holding vms/NAME.json and
 * vms/NAME.lock, and jobs/ID/{job.json,lock,log,DISK.ckpt}.  Records are JSON
 * written atomically and durably (temp file, fsync, rename, fsync directory);
 * every open refuses symlinks, and names are validated so nothing escapes.
 *
 * Trust: like ssh with key files, the store's directories and records are
 * used only when owned by the caller or by root and writable by nobody else.
 * Group write is accepted for one operator group ($RESYNC_OPERATOR_GROUP,
 * a group name or gid): a directory or record whose group is that group may
 * be group-writable and owned by any member of it.  Anything else gives
 * -EPERM (ctl_untrusted_reason() says why).  Functions return 0 or a
 * negative errno.
 */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <json-c/json.h>

#define CTL_DEFAULT_STATE_DIR "/var/lib/resync"
#define CTL_NAME_MAX 64

struct ctl_store {
	int root;
	int vms;
	int jobs;
	char path[4096];
	char why[512]; /* ctl_store_open's reason for -EPERM */
};

/* $RESYNC_STATE_DIR, else the default. */
const char *ctl_store_default_path(void);
/* Opens (creating with mode 0700 where missing) the store at path; -EPERM
 * with the reason in s->why for a directory that may not be trusted.
 * Also sweeps what killed calls left behind (ctl_store_sweep()). */
int ctl_store_open(struct ctl_store *s, const char *path);
void ctl_store_close(struct ctl_store *s);
/* Removes what a killed call leaves: ".NAME.PID.tmp" records and job
 * folders whose PID is dead, and job folders without job.json whose lock is
 * free.  Best effort: a read-only store is left as it is. */
void ctl_store_sweep(struct ctl_store *s);

/* 0 when st (a directory or record of the store) may be trusted, else
 * -EPERM with the reason ("owned by uid 65534, neither you nor root",
 * "writable by others (mode 0757)") in why. */
int ctl_trust_stat(const struct stat *st, char *why, size_t n);
/* The reason dirfd/name (NULL or "": dirfd itself) is not trusted, or "". */
void ctl_untrusted_reason(int dirfd, const char *name, char *why, size_t n);

/* mode for something the store creates: with an operator group the owner's
 * bits are given to the group too (0700 -> 0770), else mode. */
mode_t ctl_create_mode(mode_t mode);

/* 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool ctl_name_valid(const char *name);

/* -ENOENT when absent, -ELOOP for a symlink, -EBADMSG when not JSON, -EPERM
 * when not trusted. */
int ctl_read_json(int dirfd, const char *name, json_object **out);
int ctl_write_json(int dirfd, const char *name, json_object *obj);

/* flock(LOCK_EX) on dirfd/name, created when missing; wait false gives
 * -EWOULDBLOCK when another open file holds it.  *fdp is the lock's fd. */
int ctl_lock(int dirfd, const char *name, bool wait, int *fdp);
/* 1 when some process holds the lock, 0 when free or absent. */
int ctl_lock_held(int dirfd, const char *name);

/* mkdirat 0700, made durable in dirfd (-EEXIST when present), and an
 * O_NOFOLLOW directory open that refuses an untrusted directory (-EPERM). */
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
