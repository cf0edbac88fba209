/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/events (doc/api.md): the event journal (ctl/journal.h) as a
 * Server-Sent Events stream.  A stream never holds a server thread while it
 * waits: its content reader sends what the journal has after the stream's
 * cursor and otherwise suspends the connection; one notifier thread waits
 * on the journal (inotify, so appends by the CLI and workers count too) and
 * resumes the streams that are behind, or due a keepalive comment.
 */
#ifndef RESYNCD_EVENTS_H
#define RESYNCD_EVENTS_H

#include "daemon.h"

struct MHD_Connection;
struct MHD_Response;

/* Event streams open at once, over every socket, without
 * --max-event-streams: this many, or half the connection limit if less. */
#define RD_DEFAULT_MAX_STREAMS 128

/* The cap on open streams (c->max_streams, else the default above); one
 * more gets 503, ReturnValue 32777. */
unsigned rd_events_max_streams(const struct rd_config *c);

/* Starts the notifier thread: 0 or a negative errno. */
int rd_events_start(struct rd_daemon *d);
/* Ends every stream (their next read is the end) and resumes the suspended
 * ones, so MHD_stop_daemon finds none suspended; joins the notifier. */
void rd_events_stop(void);

/* The stream's response for conn (Last-Event-ID, ?after=, ?vm=, ?job=), or
 * NULL with r filled (400 for a bad id, 503 past the cap). */
struct MHD_Response *rd_events_response(struct rd_daemon *d, struct MHD_Connection *conn,
					struct rd_reply *r);

#endif
