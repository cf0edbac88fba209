/* SPDX-License-Identifier: MIT */
/* The trust rules; see trust.h and doc/trust.md, whose rule ids these are. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "resync/resync.h"
#include "resync/change_bitmap.h"
#include "resync/return_codes.h"
#include "endpoint_check.h"
#include "errmap.h"
#include "guid.h"
#include "nbd_uri.h"
#include "track_log.h"
#include "trust.h"
#include "vm.h"

static bool is_record(enum ctl_change_source cs)
{
	return cs == CTL_CS_BITMAP || cs == CTL_CS_NBD_DIRTY || cs == CTL_CS_EXTENTS;
}

static void verdict(struct ctl_trust *t, enum ctl_trust_verdict v, enum ctl_change_source cs,
		    const char *rule, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void verdict(struct ctl_trust *t, enum ctl_trust_verdict v, enum ctl_change_source cs,
		    const char *rule, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	int n;

	t->verdict = v;
	t->cs = cs;
	t->rule = rule;
	n = snprintf(t->reason, sizeof(t->reason), "%s", prefix);
	if (n < 0 || (size_t)n >= sizeof(t->reason))
		return;
	va_start(ap, fmt);
	vsnprintf(t->reason + n, sizeof(t->reason) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Why an earlier job's checkpoint cannot be continued, or "" when it can. */
static void resume_refusal(const struct ctl_trust_facts *f, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!f->has_resume)
		return;
	if (f->requested != CTL_CS_AUTO && f->requested != f->resume_cs)
		snprintf(buf, len, "not resuming job %s: it used %s, the settings ask for %s; ",
			 f->resume_job, ctl_change_source_name(f->resume_cs),
			 ctl_change_source_name(f->requested));
	else if (f->binding_diff && *f->binding_diff)
		snprintf(buf, len, "not resuming job %s: the recovery point changed since (%s); ",
			 f->resume_job, f->binding_diff);
	else if (f->resume_job_failed && is_record(f->resume_cs))
		snprintf(buf, len,
			 "not resuming job %s: it failed while using its %s change "
			 "record; ",
			 f->resume_job, ctl_change_source_name(f->resume_cs));
	else if (!f->checkpoint_present && is_record(f->resume_cs))
		snprintf(buf, len, "not resuming job %s: its checkpoint is gone; ", f->resume_job);
}

void ctl_trust_decide(const struct ctl_trust_facts *f, struct ctl_trust *t)
{
	char no_resume[300];
	uint8_t tg[16];

	memset(t, 0, sizeof(*t));
	if (f->verify_unplanned_diff) {
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "verify-mismatch", "",
			"sample verification found a block outside the plan that differs: the "
			"change record left out a change");
		return;
	}
	resume_refusal(f, no_resume, sizeof(no_resume));
	if (f->has_resume && !*no_resume) {
		verdict(t, CTL_TRUST_RESUME, f->resume_cs, "resume", "",
			"resuming job %s (%s): same recovery point content, checkpoint present",
			f->resume_job, ctl_change_source_name(f->resume_cs));
		return;
	}
	if (f->requested == CTL_CS_COMPARE || f->requested == CTL_CS_FULL) {
		verdict(t, CTL_TRUST_REQUESTED, f->requested, "requested", no_resume,
			"%s requested in the settings", ctl_change_source_name(f->requested));
		return;
	}
	if (f->target_inconsistent) {
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "inconsistent", no_resume,
			"target is inconsistent (an interrupted or failed failback wrote to it)");
		return;
	}
	if (!f->record_kind) {
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "no-record", no_resume,
			"no change record in the recovery point");
		return;
	}
	if (f->record_unusable) {
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "record-unusable", no_resume, "%s",
			f->record_problem);
		return;
	}
	if (!f->record_consistent) {
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "record-unclean", no_resume,
			"%s change record is not marked consistent (unclean close)",
			f->record_kind);
		return;
	}
	if (!f->record_has_generation) {
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "generation-mismatch", no_resume,
			"%s change record has no generation id", f->record_kind);
		return;
	}
	if (!f->target_generation || rc_guid_parse(f->target_generation, tg) < 0 ||
	    memcmp(tg, f->record_generation, 16)) {
		char hex[RC_GUID_HEX_LEN];
		rc_guid_hex(f->record_generation, hex);
		verdict(t, CTL_TRUST_COMPARE, CTL_CS_COMPARE, "generation-mismatch", no_resume,
			"generation mismatch: change record is relative to %s, target holds %s",
			hex,
			f->target_generation && *f->target_generation ? f->target_generation :
									"(none)");
		return;
	}
	enum ctl_change_source cs = ctl_trust_record_source(f->record_kind);
	if (f->record_recovered) {
		verdict(t, CTL_TRUST_USE_RECORD, cs, "record-recovered", no_resume,
			"%s change record %s: its %llu hot region%s counted as written (an "
			"over-approximation), and its generation matches the target",
			f->record_kind,
			f->record_open ? "was left open (its server stopped without a clean close, "
					 "or still runs)" :
					 "was recovered after an unclean close",
			(unsigned long long)f->record_hot_regions,
			f->record_hot_regions == 1 ? " is" : "s are");
		return;
	}
	verdict(t, CTL_TRUST_USE_RECORD, cs, "record-trusted", no_resume,
		"%s change record is consistent and its generation matches the target",
		f->record_kind);
}

enum ctl_change_source ctl_trust_record_source(const char *kind)
{
	enum ctl_change_source cs = CTL_CS_COMPARE;

	if (kind && !strcmp(kind, "track"))
		return CTL_CS_BITMAP;
	if (kind)
		ctl_change_source_parse(kind, &cs);
	return cs;
}

static uint32_t rv_of_errno(int err)
{
	return err == -ENOENT ? RESYNC_RV_FILE_NOT_FOUND :
	       err == -EACCES ? RESYNC_RV_ACCESS_DENIED :
				RESYNC_RV_INVALID_PARAMETER;
}

/* A tracking log (doc/track-log.md) read as its first reader would, without
 * writing it: a log left open has its hot regions merged in memory.  Clean
 * or recovered, its bits cover every acknowledged write since its
 * generation, so a readable log of the disk's size is consistent. */
static void read_track(const char *path, uint64_t size, struct ctl_trust_facts *f)
{
	struct rc_track t = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), err;

	err = fd < 0 ? -errno : rc_track_read(&t, fd);
	if (fd >= 0)
		close(fd);
	if (err < 0) {
		f->record_unusable = true;
		f->record_rv = rv_of_errno(err);
		snprintf(f->record_problem, sizeof(f->record_problem), "tracking log %s: %s", path,
			 fd >= 0 && t.error ? t.error : strerror(-err));
		rc_track_fini(&t);
		return;
	}
	if (t.device_size != size) {
		f->record_unusable = true;
		f->record_rv = RESYNC_RV_INVALID_PARAMETER;
		snprintf(f->record_problem, sizeof(f->record_problem),
			 "tracking log %s covers %llu bytes, the disk has %llu", path,
			 (unsigned long long)t.device_size, (unsigned long long)size);
	}
	memcpy(f->record_generation, t.generation, 16);
	f->record_has_generation = true;
	f->record_consistent = true;
	f->record_open = t.flags & RESYNC_TRACK_F_OPEN;
	f->record_recovered = f->record_open || (t.flags & RESYNC_TRACK_F_RECOVERED);
	f->record_hot_regions = f->record_open ? t.recovered_now : t.recovered_regions;
	rc_track_fini(&t);
}

void ctl_trust_read_record(json_object *cr, bool image_is_nbd, uint64_t size,
			   struct ctl_trust_facts *f)
{
	const char *kind = cr ? ctl_json_str(cr, "Kind") : NULL;
	const char *g;

	f->record_kind = kind;
	f->record_unusable = false;
	f->record_rv = 0;
	f->record_problem[0] = '\0';
	f->record_recovered = false;
	f->record_open = false;
	f->record_hot_regions = 0;
	if (!kind)
		return;
	if (!strcmp(kind, "track")) {
		read_track(ctl_json_str(cr, "Path") ?: "", size, f);
		return;
	}
	if (!strcmp(kind, "nbd-dirty") && !image_is_nbd) {
		f->record_unusable = true;
		snprintf(f->record_problem, sizeof(f->record_problem),
			 "nbd-dirty record on a non-NBD image");
		return;
	}
	if (strcmp(kind, "bitmap")) {
		g = ctl_json_str(cr, "BaseGenerationId");
		f->record_consistent =
			json_object_get_boolean(json_object_object_get(cr, "Consistent"));
		f->record_has_generation = g && rc_guid_parse(g, f->record_generation) == 0;
		return;
	}
	/* For bitmaps the file's own header is the truth. */
	const char *path = ctl_json_str(cr, "Path") ?: "";
	resync_bitmap *b;
	int err = resync_bitmap_load(&b, path);
	if (err < 0) {
		f->record_unusable = true;
		f->record_rv = rv_of_errno(err);
		snprintf(f->record_problem, sizeof(f->record_problem), "change bitmap %s: %s", path,
			 *resync_bitmap_load_error() ? resync_bitmap_load_error() : strerror(-err));
		return;
	}
	if (resync_bitmap_device_size(b) != size) {
		f->record_unusable = true;
		f->record_rv = RESYNC_RV_INVALID_PARAMETER;
		snprintf(f->record_problem, sizeof(f->record_problem),
			 "change bitmap %s covers %llu bytes, the disk has %llu", path,
			 (unsigned long long)resync_bitmap_device_size(b),
			 (unsigned long long)size);
	}
	resync_bitmap_get_generation(b, f->record_generation);
	f->record_has_generation = true;
	f->record_consistent = resync_bitmap_flags(b) & RESYNC_BITMAP_F_CONSISTENT;
	resync_bitmap_free(b);
}

/* A file or device's identity: what it is, not what it is called. */
static void path_identity(const char *path, uint64_t size, char *buf, size_t len)
{
	struct stat st;

	if (rc_is_nbd_uri(path))
		snprintf(buf, len, "nbd %s size %llu", path, (unsigned long long)size);
	else if (stat(path, &st) < 0)
		snprintf(buf, len, "%s: %s", path, strerror(errno));
	else if (S_ISBLK(st.st_mode))
		snprintf(buf, len, "block device %u:%u size %llu", major(st.st_rdev),
			 minor(st.st_rdev), (unsigned long long)size);
	else
		snprintf(buf, len, "file %u:%u inode %llu size %lld mtime %lld.%09ld",
			 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino,
			 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

json_object *ctl_trust_binding(json_object *rp, json_object *rpdisk, uint64_t image_size)
{
	json_object *b = json_object_new_object(), *cr;
	char id[4400], rec[4600];
	const char *kind, *arg;

	json_object_object_add(b, "RecoveryPoint",
			       json_object_new_string(ctl_json_str(rp, "Id") ?: ""));
	json_object_object_add(b, "CreationTime",
			       json_object_new_int64(json_object_get_int64(
				       json_object_object_get(rp, "CreationTimeEpoch"))));
	path_identity(ctl_json_str(rpdisk, "Image") ?: "", image_size, id, sizeof(id));
	json_object_object_add(b, "Image", json_object_new_string(id));
	rec[0] = '\0';
	if (json_object_object_get_ex(rpdisk, "ChangeRecord", &cr)) {
		kind = ctl_json_str(cr, "Kind") ?: "";
		arg = ctl_json_str(cr, !strcmp(kind, "nbd-dirty") ? "Name" : "Path") ?: "";
		if (strcmp(kind, "nbd-dirty"))
			path_identity(arg, 0, id, sizeof(id));
		else
			snprintf(id, sizeof(id), "%s", arg);
		snprintf(rec, sizeof(rec), "%.16s %s base %.40s%s", kind, id,
			 ctl_json_str(cr, "BaseGenerationId") ?: "-",
			 json_object_get_boolean(json_object_object_get(cr, "Consistent")) ?
				 " consistent" :
				 "");
	}
	json_object_object_add(b, "ChangeRecord", json_object_new_string(rec));
	return b;
}

void ctl_trust_binding_diff(json_object *old, json_object *cur, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!old || !json_object_is_type(old, json_type_object)) {
		snprintf(buf, len, "the checkpoint records no binding");
		return;
	}
	json_object_object_foreach(cur, key, v)
	{
		json_object *o = json_object_object_get(old, key);
		const char *a = o ? json_object_get_string(o) : "", *c = json_object_get_string(v);
		if (strcmp(a, c)) {
			snprintf(buf, len, "%s was \"%.150s\", now \"%.150s\"", key, a, c);
			return;
		}
	}
}
