/* SPDX-License-Identifier: MIT */
/* resync-bitmap's command-line edge: exit codes, message helpers, and the
 * commands main.c dispatches to nbd.c (NBD) and track.c (tracking logs). */
#ifndef RESYNC_BITMAP_CLI_H
#define RESYNC_BITMAP_CLI_H

#include <stdint.h>
#include "resync/resync.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Print "resync-bitmap: message" on stderr; return EXIT_RUNTIME / EXIT_USAGE
 * (usage also prints the synopsis; fmt may be NULL). */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the dirty extents of qemu:dirty-bitmap:NAME as "offset length". */
int nbd_print_extents(const char *uri, const char *name);
/* Captures them into a new bitmap of the export's size. */
int nbd_capture(const char *uri, const char *name, uint32_t granularity, resync_bitmap **out);

/* Saves b to out, reporting a failure. */
int save_bitmap(resync_bitmap *b, const char *out);
/* track.c: merge, reset, rotate; dump's tracking-log state (root NULL: text). */
int cmd_merge(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
struct json_object;
void track_dump_info(const char *path, struct json_object *root);

#endif
