/* SPDX-License-Identifier: MIT */
/*
 * The trust rules (doc/trust.md): the one place that decides whether a
 * failback may rely on something it did not read itself -- a change record
 * (change bitmap, tracking log, qemu dirty bitmap, extent list), a checkpoint an earlier
 * job left, the generation a target is recorded to hold.
 *
 * ctl_trust_decide() applies the rules in their documented order; the first
 * that matches gives the verdict, its rule id and a reason, which the job
 * record keeps per disk (TrustRule, TrustReason).  It does no I/O: the facts
 * are gathered beforehand (ctl_trust_read_record(), ctl_trust_binding()).
 * When a rule cannot be sure, the verdict is compare, which trusts nothing.
 */
#ifndef CTL_TRUST_H
#define CTL_TRUST_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "settings.h"

enum ctl_trust_verdict {
	CTL_TRUST_COMPARE,    /* read both sides, write what differs */
	CTL_TRUST_USE_RECORD, /* copy what the change record names */
	CTL_TRUST_RESUME,     /* continue the earlier job's checkpoint, its way */
	CTL_TRUST_REQUESTED,  /* compare or full, as the settings ask: nothing to trust */
};

/* Everything the rules look at for one disk. */
struct ctl_trust_facts {
	enum ctl_change_source requested; /* the settings' change_source */

	/* The target, as the VM record has it. */
	bool target_inconsistent;
	const char *target_generation; /* 32 hex digits, or NULL / "" */

	/* The VM disk's Resume record, when it names this recovery point. */
	bool has_resume;
	const char *resume_job;
	enum ctl_change_source resume_cs;
	const char *binding_diff; /* "" when the recovery point is unchanged */
	bool checkpoint_present;  /* the job's DISK.ckpt still exists */
	bool resume_job_failed;   /* that job ended in Exception with its own error */

	/* The recovery point's change record (ctl_trust_read_record()). */
	const char *record_kind; /* "bitmap", "track", "nbd-dirty", "extents"; NULL: none */
	bool record_unusable;    /* unreadable, wrong size, or wrong kind of image */
	uint32_t record_rv;      /* a return value saying why, when unreadable */
	char record_problem[200];
	bool record_consistent;
	bool record_has_generation;
	uint8_t record_generation[16];
	/* A tracking log left open by its server (nbdkit or the machine died,
	 * or it still serves), or reopened after that: its hot regions are
	 * counted as written (record_hot_regions of them). */
	bool record_recovered;
	bool record_open;
	uint64_t record_hot_regions;

	/* After a copy: sample verification found a difference outside the plan. */
	bool verify_unplanned_diff;
};

struct ctl_trust {
	enum ctl_trust_verdict verdict;
	enum ctl_change_source cs; /* what the copy uses */
	const char *rule;          /* the deciding rule's id (doc/trust.md) */
	char reason[400];
};

void ctl_trust_decide(const struct ctl_trust_facts *f, struct ctl_trust *out);

/* Fills the record_* facts from a recovery-point disk's ChangeRecord (NULL:
 * none), loading a bitmap's header or reading a tracking log (read only:
 * the file is never changed); image_is_nbd and size are the image's. */
void ctl_trust_read_record(json_object *cr, bool image_is_nbd, uint64_t size,
			   struct ctl_trust_facts *f);

/* The change source that copies by a record of this kind ("track" and
 * "bitmap" are both read by the engine's bitmap loader), or a change
 * source's own name; CTL_CS_COMPARE for anything else. */
enum ctl_change_source ctl_trust_record_source(const char *kind);

/* What a checkpoint is bound to: the recovery point's id and creation time,
 * the image's identity (file: device, inode, size, mtime; block device:
 * device number and size; NBD: URI and size) and the change record's
 * (its file's identity, generation and consistent flag).  A new object. */
json_object *ctl_trust_binding(json_object *rp, json_object *rpdisk, uint64_t image_size);
/* "" when old and cur bind the same content, else which part differs. */
void ctl_trust_binding_diff(json_object *old, json_object *cur, char *buf, size_t len);

#endif
