/* SPDX-License-Identifier: MIT */
/*
 * The event journal (doc/events.md): a durable, append-only record of the
 * store's state changes -- job created/changed/removed (JobState,
 * PercentComplete, ErrorCode), VM added/changed/removed (ReplicationState,
 * ReplicationHealth) and failover -- that every writer (CLI, worker,
 * daemon) appends to, and that `resyncctl events` and resyncd's event
 * stream read.
 *
 * Layout: events/lock, and segments events/FIRST.jsonl (FIRST the 20-digit
 * id of the segment's first event), one JSON object per line:
 *   {"Id":N,"Time":...,"TimeEpochNs":...,"Kind":...,...,"Xxh64":"HEX"}
 * Ids start at 1 and increase by one per event, across processes: an
 * appender holds events/lock (flock), finds the last valid line, truncates a
 * torn tail (the last line only: cut short by a kill or a crash, or one
 * whose XXH64 over the bytes before ,"Xxh64" does not match) and writes the
 * next id, then fdatasyncs before returning.  A torn event was never
 * acknowledged, so dropping it shifts no id.  A damaged line with lines
 * after it is not a torn tail: appends and reads fail with -EBADMSG and the
 * journal is left as it is, since cutting it would drop acknowledged events
 * and give their ids to new ones (doc/events.md says how to repair it).
 *
 * Retention: a segment is closed once it holds CTL_JOURNAL_SEGMENT_BYTES
 * ($RESYNC_JOURNAL_SEGMENT_BYTES), and the oldest segments are removed so
 * that CTL_JOURNAL_SEGMENTS ($RESYNC_JOURNAL_SEGMENTS) remain, the newest
 * included: the last 7 to 8 MiB of events (tens of thousands) by default.
 *
 * Record writers journal before they write (write-ahead): an event is
 * durable before the record it describes, so a writer killed in between
 * leaves an event for a change its record lacks, never a change without an
 * event; each event carries the object's whole watched state, so the
 * newest event of an object is its state once the record is written (or
 * the next writer, or the reaper, supersedes it).  A failed record write
 * is followed by an event restoring what the record holds.  A failed
 * append fails the change (journal_job/journal_vm's callers return its
 * code): no state change is made that the journal cannot show.
 *
 * Functions return 0 (or a count) or a negative errno and never print.
 */
#ifndef CTL_JOURNAL_H
#define CTL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "store.h"

#define CTL_JOURNAL_SEGMENT_BYTES (1u << 20)
#define CTL_JOURNAL_SEGMENTS 8
/* An event's line, checksum and newline included. */
#define CTL_JOURNAL_LINE_MAX 8192

/* Appends event, an object with a string "Kind" (its other members are the
 * caller's: "VirtualSystem", "JobId", "Changed", "Properties" for the store's
 * own kinds); the journal adds "Id", "Time" and "TimeEpochNs" (members of
 * those names in event are ignored).  Durable on return; *id (may be NULL)
 * is the event's id.  -EINVAL without Kind, -E2BIG past
 * CTL_JOURNAL_LINE_MAX, -EBADMSG for a damaged line before the newest
 * segment's tail, else the failing call's errno (-ENOSPC, -EIO...), in
 * which case nothing was appended. */
int ctl_journal_append(struct ctl_store *s, json_object *event, uint64_t *id);

/* Up to max events with an id above after_id, oldest first, as a new array
 * in *events (the objects as appended, without "Xxh64"); returns their
 * count.  *oldest is the id of the oldest event kept (the next id to be
 * given when the journal is empty).  after_id 0 reads from the oldest kept.
 * -ERANGE (and *events NULL) when events after after_id are no longer all
 * kept (after_id + 1 < *oldest: dropped by retention) or after_id is past
 * the newest id (the journal was reset): the reader must resynchronise
 * from the records.  -EBADMSG when a damaged line with events after it
 * stops the read (see above). */
int ctl_journal_read(struct ctl_store *s, uint64_t after_id, size_t max, json_object **events,
		     uint64_t *oldest);

/* What err, a journal function's result, means, for an error message:
 * strerror's text, or for -EBADMSG the damaged journal. */
const char *ctl_journal_strerror(int err);

/* The newest event's id in *last (0 for an empty journal). */
int ctl_journal_last(struct ctl_store *s, uint64_t *last);

/* Blocks until an event with an id above after_id is in the journal (1),
 * timeout_ms passes (0; < 0 waits for ever), or a signal arrives (-EINTR).
 * inotify on events/, so an append by any process wakes it. */
int ctl_journal_wait(struct ctl_store *s, uint64_t after_id, int timeout_ms);

/* The event for a job record going from old to cur (NULL: absent; removed
 * when cur is NULL, created when old is NULL) when one of JobState,
 * PercentComplete, ErrorCode changed, or the job appeared or went: 0 with
 * *id (may be NULL) the event's id, or 0 for no change; a negative errno
 * when the append failed. */
int ctl_journal_job(struct ctl_store *s, json_object *old, json_object *cur, uint64_t *id);
/* The same for a VM record: ReplicationState, ReplicationHealth and
 * FailedOverTo (a new failover point is Kind "Failover"). */
int ctl_journal_vm(struct ctl_store *s, json_object *old, json_object *cur, uint64_t *id);

#endif
