/* SPDX-License-Identifier: MIT */
/*
 * ReplicationSettingData for a failback, in either of two forms, told apart
 * by the first non-blank character: '<' the embedded-instance string of
 * Msvm_ReplicationSettingData (CIM-XML; settings_cimxml.c and
 * doc/settings.md), anything else a JSON object:
 *   disks          array of disk names (default: every disk of the VM)
 *   change_source  "auto" | "bitmap" | "nbd-dirty" | "compare" | "full"
 *   verify         boolean: re-read the whole disk after copying
 *   verify_sample_per_gib, verify_sample_min
 *                  integers: a copy by a change record re-reads what it wrote
 *                  and this many blocks per GiB outside the plan, at least
 *                  verify_sample_min per disk (both 0: only what it wrote)
 *   rate_limit     integer bytes per second, 0 unlimited
 *   queue_depth    integer 1..1024
 *   request_size   integer, power of two, 4096..67108864
 *                  either absent: the engine chooses it per disk from what
 *                  the disk's endpoints report (resync_io_choice()); the job
 *                  record's disk shows the choice (IoChoice, RequestSize,
 *                  QueueDepth); 0 here means that, and never reaches JSON
 *   tls            { "certificates": DIR | "psk_file": FILE, "username": NAME }
 *   memory_limit   integer bytes >= 1048576, default 256 MiB: the job's buffers
 *                  in all; the disks, copied at once, share it evenly, and a
 *                  disk whose share is short of queue_depth x request_size x 2
 *                  copies with smaller requests (then a lower depth)
 *   nbd_connect_timeout_ms
 *                  integer 1..86400000: how long connecting to an NBD server
 *                  may take (the checks and the copy); 0 or absent: the
 *                  library's default (common/nbd_connect.h)
 * Not JSON, or a key of the wrong type: 32776.  An unknown key or a value out
 * of range: 32773.  The message names the key.  Either form longer than
 * CTL_SETTINGS_MAX_LEN bytes: 32773.
 */
#ifndef CTL_SETTINGS_H
#define CTL_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "errmap.h"

enum ctl_change_source {
	CTL_CS_AUTO,
	CTL_CS_BITMAP,
	CTL_CS_NBD_DIRTY,
	CTL_CS_EXTENTS,
	CTL_CS_COMPARE,
	CTL_CS_FULL,
};

#define CTL_DEFAULT_MEMORY_LIMIT (256ull << 20)
#define CTL_MIN_MEMORY_LIMIT (1ull << 20)
#define CTL_DEFAULT_SAMPLE_PER_GIB 16u
#define CTL_DEFAULT_SAMPLE_MIN 256u
#define CTL_MAX_SAMPLE (1u << 24)
/* The longest settings document either form may be: far above any real one,
 * low enough that a caller cannot make the parser hold much memory. */
#define CTL_SETTINGS_MAX_LEN (1u << 20)

struct ctl_settings {
	char **disks; /* NULL: all */
	size_t ndisks;
	enum ctl_change_source change_source;
	bool verify;
	uint32_t verify_sample_per_gib;
	uint32_t verify_sample_min;
	uint64_t rate_limit;
	unsigned queue_depth;  /* 0: the engine chooses per disk */
	uint32_t request_size; /* 0: the engine chooses per disk */
	uint64_t memory_limit; /* the job's buffers, all disks */
	char *tls_certificates;
	char *tls_psk_file;
	char *tls_username;
	uint32_t nbd_connect_timeout_ms; /* 0: the default */
};

void ctl_settings_init(struct ctl_settings *s);
void ctl_settings_free(struct ctl_settings *s);
/* Parses text, JSON or CIM-XML (may be NULL or empty: all defaults); returns
 * 0 or 32773/32776 (32778 when out of memory). */
uint32_t ctl_settings_parse(const char *text, struct ctl_settings *s, struct ctl_err *e);
/* The normalized settings, every key present but queue_depth and
 * request_size when the engine chooses them (0), so that the text parses
 * back to the same settings; NULL on ENOMEM. */
json_object *ctl_settings_to_json(const struct ctl_settings *s);

const char *ctl_change_source_name(enum ctl_change_source cs);
/* -EINVAL for an unknown name. */
int ctl_change_source_parse(const char *name, enum ctl_change_source *out);

#endif
