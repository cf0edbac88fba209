/* SPDX-License-Identifier: MIT */
/*
 * GUIDs: 16-byte ids (job ids, disk generations, bitmap disk ids), drawn
 * from getrandom(2) and spelled with libuuid (names prefixed rc_, "resync
 * common"; compiled into libresync, not exported from the shared library).
 *
 * One grammar reads every id: 32 hex digits, or the dashed 8-4-4-4-12
 * spelling of RFC 4122; either case; nothing else (no braces, no stray
 * dashes, no spaces).
 *
 * Randomness: getrandom(2), blocking until the pool is ready.  A failing
 * source is an error (-errno), never a weak or all-zero id: libuuid's
 * uuid_generate_random() returns nothing and falls back to /dev/urandom and
 * then to a rand()-seeded generator without telling its caller, so an id it
 * made cannot be trusted to be unique, and no check afterwards can tell.
 */
#ifndef RESYNC_COMMON_GUID_H
#define RESYNC_COMMON_GUID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RC_GUID_HEX_LEN 33  /* 32 hex digits and the NUL */
#define RC_GUID_TEXT_LEN 37 /* 8-4-4-4-12 and the NUL */

/* n bytes from getrandom(2): 0, or -errno (-EIO for a source that returns
 * nothing) with buf's contents meaningless. */
int rc_random(void *buf, size_t n);
/* A random (version 4) GUID: 0, or rc_random's -errno. */
int rc_guid_random(uint8_t id[16]);
/* The whole string is an id in the grammar above: 0, else -EINVAL. */
int rc_guid_parse(const char *s, uint8_t id[16]);
/* 32 lower-case hex digits. */
void rc_guid_hex(const uint8_t id[16], char out[RC_GUID_HEX_LEN]);
/* The dashed spelling, lower case. */
void rc_guid_text(const uint8_t id[16], char out[RC_GUID_TEXT_LEN]);

#ifdef __cplusplus
}
#endif

#endif
