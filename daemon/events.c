/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/events (events.h).  Each event goes out as
 *   id: ID / event: Kind / data: the event's JSON, then a blank line;
 * a cursor that retention has passed (or one past the newest id) gives
 *   id: OLDEST-1 / event: reset / data: {"After":..,"Oldest":..}
 * and the stream goes on from the oldest event kept.  A stream's cursor
 * moves over events its filters drop, so ids stay the journal's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include "resync/return_codes.h"
#include "events.h"
#include "journal.h"
#include "json_reply.h"

/* Seconds between keepalive comments on an idle stream. */
#define KEEPALIVE_S 15
/* Events read from the journal per refill. */
#define BATCH 64

struct stream {
	struct rd_daemon *d;
	struct MHD_Connection *conn;
	/* Atomic: the reader moves them outside `lock` while the notifier
	 * reads them under it. */
	_Atomic uint64_t after; /* the newest id read (sent or filtered out) */
	char vm[CTL_NAME_MAX + 1], job[CTL_NAME_MAX + 1];
	char *buf; /* formatted, not yet sent */
	size_t len, off;
	_Atomic long long last_ms; /* last write */
	bool suspended;
	struct stream *prev, *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stream *streams;
static unsigned nstreams; /* in the list */
static uint64_t seen;     /* the newest id the notifier saw */
static bool stopping, started;
static pthread_t notifier;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static int append(struct stream *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int append(struct stream *st, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	char *nb = realloc(st->buf, st->len + (size_t)n);
	if (!nb) {
		free(s);
		return -ENOMEM;
	}
	memcpy(nb + st->len, s, (size_t)n);
	st->buf = nb;
	st->len += (size_t)n;
	free(s);
	return 0;
}

static bool wanted(const struct stream *st, json_object *ev)
{
	json_object *v;

	if (st->vm[0] && (!json_object_object_get_ex(ev, "VirtualSystem", &v) ||
			  strcmp(json_object_get_string(v), st->vm)))
		return false;
	if (st->job[0] && (!json_object_object_get_ex(ev, "JobId", &v) ||
			   strcmp(json_object_get_string(v), st->job)))
		return false;
	return true;
}

/* Formats what the journal has after st->after: the count of events read
 * (0: none), or a negative errno. */
static int refill(struct stream *st)
{
	json_object *evs = NULL, *v;
	uint64_t oldest;
	int n, err = 0;

	n = ctl_journal_read(&st->d->store, st->after, BATCH, &evs, &oldest);
	if (n == -ERANGE) {
		err = append(st,
			     "id: %llu\nevent: reset\ndata: {\"After\":%llu,\"Oldest\":%llu}\n\n",
			     (unsigned long long)(oldest - 1), (unsigned long long)st->after,
			     (unsigned long long)oldest);
		st->after = oldest - 1;
		return err < 0 ? err : 1;
	}
	if (n < 0)
		return n;
	for (int i = 0; i < n && !err; i++) {
		json_object *ev = json_object_array_get_idx(evs, (size_t)i);
		uint64_t id = json_object_object_get_ex(ev, "Id", &v) ?
				      (uint64_t)json_object_get_int64(v) :
				      st->after + 1;
		if (wanted(st, ev)) {
			json_object_object_get_ex(ev, "Kind", &v);
			err = append(st, "id: %llu\nevent: %s\ndata: %s\n\n",
				     (unsigned long long)id, json_object_get_string(v),
				     json_object_to_json_string_ext(
					     ev, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
		}
		st->after = id;
	}
	json_object_put(evs);
	return err < 0 ? err : n;
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *st = cls;
	size_t n;

	(void)pos;
	for (;;) {
		if (st->off < st->len) {
			n = st->len - st->off < max ? st->len - st->off : max;
			memcpy(out, st->buf + st->off, n);
			st->off += n;
			if (st->off == st->len)
				st->off = st->len = 0;
			st->last_ms = now_ms();
			return (ssize_t)n;
		}
		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		pthread_mutex_unlock(&lock);
		int got = refill(st);
		if (got < 0) {
			rd_log("event stream after id %llu: reading the journal: %s",
			       (unsigned long long)st->after, ctl_journal_strerror(got));
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (got > 0)
			continue;
		if (now_ms() - st->last_ms >= KEEPALIVE_S * 1000LL) {
			if (append(st, ": keepalive\n\n") < 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		/* Nothing new: suspend unless the notifier has seen an event
		 * past the cursor since (it resumes only streams behind it,
		 * under this lock, so no wakeup falls in between). */
		pthread_mutex_lock(&lock);
		if (seen > st->after || stopping) {
			pthread_mutex_unlock(&lock);
			continue;
		}
		st->suspended = true;
		MHD_suspend_connection(st->conn);
		pthread_mutex_unlock(&lock);
		return 0;
	}
}

static void release(void *cls)
{
	struct stream *st = cls;

	pthread_mutex_lock(&lock);
	nstreams--;
	if (st->prev)
		st->prev->next = st->next;
	else
		streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	pthread_mutex_unlock(&lock);
	free(st->buf);
	free(st);
}

static void *notify_loop(void *arg)
{
	struct rd_daemon *d = arg;

	struct MHD_Connection **wake = NULL;
	size_t cap = 0;

	for (;;) {
		uint64_t last = 0;
		size_t n = 0;
		long long now;

		/* Bounded, so a stop and keepalives are noticed within it. */
		ctl_journal_wait(&d->store, seen, 1000);
		ctl_journal_last(&d->store, &last);
		now = now_ms();
		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			free(wake);
			return NULL;
		}
		if (last > seen)
			seen = last;
		for (struct stream *st = streams; st; st = st->next) {
			if (!st->suspended ||
			    (st->after >= seen && now - st->last_ms < KEEPALIVE_S * 1000LL))
				continue;
			if (n == cap) {
				size_t c = cap ? cap * 2 : 64;
				struct MHD_Connection **w = realloc(wake, c * sizeof(*w));
				if (!w)
					break; /* the rest on the next round */
				wake = w;
				cap = c;
			}
			st->suspended = false;
			wake[n++] = st->conn;
		}
		pthread_mutex_unlock(&lock);
		/* Outside the lock, which a reader holds while it suspends: no
		 * lock order with libmicrohttpd's own.  A suspended connection
		 * cannot end, so these are still there. */
		for (size_t i = 0; i < n; i++)
			MHD_resume_connection(wake[i]);
	}
}

int rd_events_start(struct rd_daemon *d)
{
	int err;

	ctl_journal_last(&d->store, &seen);
	err = pthread_create(&notifier, NULL, notify_loop, d);
	if (err)
		return -err;
	started = true;
	return 0;
}

void rd_events_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	for (struct stream *st = streams; st; st = st->next)
		if (st->suspended) {
			st->suspended = false;
			MHD_resume_connection(st->conn);
		}
	pthread_mutex_unlock(&lock);
	if (started)
		pthread_join(notifier, NULL);
	started = false;
}

unsigned rd_events_max_streams(const struct rd_config *c)
{
	unsigned half = c->conn_limit / 2;

	if (c->max_streams)
		return c->max_streams;
	return half < 1 ? 1 : half < RD_DEFAULT_MAX_STREAMS ? half : RD_DEFAULT_MAX_STREAMS;
}

/* An event id from s: true with *id, or false for text that is not one. */
static bool parse_id(const char *s, uint64_t *id)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*id = strtoull(s, &end, 10);
	return !errno && !*end;
}

struct MHD_Response *rd_events_response(struct rd_daemon *d, struct MHD_Connection *conn,
					struct rd_reply *r)
{
	const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
	const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
	const char *vm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vm");
	const char *job = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "job");
	struct MHD_Response *resp;
	struct stream *st;
	uint64_t id = 0;

	/* The header wins: it is what a reconnecting client last saw. */
	if (last && !parse_id(last, &id)) {
		rd_reply_status(r, 400, RESYNC_RV_INVALID_PARAMETER,
				"Last-Event-ID \"%.40s\" is not an event id", last);
		return NULL;
	}
	if (!last && after && !parse_id(after, &id)) {
		rd_reply_status(r, 400, RESYNC_RV_INVALID_PARAMETER,
				"after=\"%.40s\" is not an event id", after);
		return NULL;
	}
	if ((vm && !ctl_name_valid(vm)) || (job && !ctl_name_valid(job))) {
		rd_reply_status(r, 400, RESYNC_RV_INVALID_PARAMETER, "invalid %s filter \"%.40s\"",
				vm && !ctl_name_valid(vm) ? "vm" : "job",
				vm && !ctl_name_valid(vm) ? vm : job);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		goto oom;
	/* Streams never time out: capped below the connection limit, so
	 * that readers holding streams cannot take every slot from method
	 * calls.  Counted from here, released by release(). */
	pthread_mutex_lock(&lock);
	if (nstreams >= rd_events_max_streams(&d->cfg)) {
		pthread_mutex_unlock(&lock);
		free(st);
		rd_reply_status(r, 503, RESYNC_RV_NOT_AVAILABLE,
				"%u event streams are open, the most --max-event-streams allows",
				rd_events_max_streams(&d->cfg));
		return NULL;
	}
	nstreams++;
	pthread_mutex_unlock(&lock);
	st->d = d;
	st->conn = conn;
	/* No cursor: from now on, as an EventSource expects. */
	if (!last && !after)
		ctl_journal_last(&d->store, &id);
	st->after = id;
	st->last_ms = now_ms();
	snprintf(st->vm, sizeof(st->vm), "%s", vm ? vm : "");
	snprintf(st->job, sizeof(st->job), "%s", job ? job : "");
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, st, release);
	if (!resp) {
		pthread_mutex_lock(&lock);
		nstreams--;
		pthread_mutex_unlock(&lock);
		free(st);
		goto oom;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* A stream is idle between events by design. */
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
	pthread_mutex_lock(&lock);
	st->next = streams;
	if (streams)
		streams->prev = st;
	streams = st;
	pthread_mutex_unlock(&lock);
	return resp;
oom:
	rd_reply_status(r, 500, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	return NULL;
}
