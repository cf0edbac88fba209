/* SPDX-License-Identifier: MIT */
/*
 * What resync prints: the progress bar, the verbose notes, and the JSON
 * progress and result lines, written by json-c.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "output.h"
#include "progress_bar.h"

static const char *phase_name(uint32_t ph)
{
	static const char *const names[] = { "open", "plan", "copy", "flush", "verify", "done" };
	return ph < sizeof names / sizeof names[0] ? names[ph] : "?";
}

static double mib(uint64_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

/* The figures as one JSON object, keys in snake_case (resync's JSON; the
 * schema is in resync(1)), headed by the event it reports. */
static json_object *json_stats(const struct resync_stats *s, const char *event)
{
	json_object *o = json_object_new_object();
	const struct {
		const char *key;
		uint64_t v;
	} n[] = {
		{ "size", s->size },
		{ "bytes_planned", s->bytes_planned },
		{ "bytes_done", s->bytes_done },
		{ "bytes_read", s->bytes_read },
		{ "bytes_written", s->bytes_written },
		{ "bytes_zeroed", s->bytes_zeroed },
		{ "bytes_skipped_equal", s->bytes_skipped_equal },
		{ "bytes_skipped_zero", s->bytes_skipped_zero },
		{ "bytes_differing", s->bytes_differing },
		{ "elapsed_ns", s->elapsed_ns },
		{ "checkpoints", s->checkpoints },
	};
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "phase", json_object_new_string(phase_name(s->phase)));
	for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
		json_object_object_add(o, n[i].key, json_object_new_uint64(n[i].v));
	json_object_object_add(o, "source_direct", json_object_new_boolean(s->source_direct));
	json_object_object_add(o, "target_direct", json_object_new_boolean(s->target_direct));
	json_object_object_add(o, "resumed", json_object_new_boolean(s->resumed));
	json_object_object_add(o, "bytes_verified", json_object_new_uint64(s->bytes_verified));
	json_object_object_add(o, "verify_unplanned_diff",
			       json_object_new_boolean(s->verify_unplanned_diff));
	json_object_object_add(o, "resume_refused", json_object_new_boolean(s->resume_refused));
	json_object_object_add(o, "claim_wait_ms", json_object_new_uint64(s->claim_wait_ms));
	json_object_object_add(o, "digest_stream_bytes",
			       json_object_new_uint64(s->digest_stream_bytes));
	json_object_object_add(o, "checkpoint_flush_ns",
			       json_object_new_uint64(s->checkpoint_flush_ns));
	json_object_object_add(o, "checkpoint_hold_ns",
			       json_object_new_uint64(s->checkpoint_hold_ns));
	return o;
}

/* One line on stdout; takes over o. */
static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

/* An errno by name ("EILSEQ"): its number differs between architectures. */
static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);
	return name ? name : "unknown";
}

static void say_access(struct output *o, const struct resync_stats *s)
{
	if (!o->verbose || o->said_access || s->phase < RESYNC_PHASE_COPY)
		return;
	o->said_access = true;
	/* Waiting means a killed run's ring still held the target: its
	 * writes were draining. */
	if (s->claim_wait_ms)
		fprintf(stderr,
			"resync: waited %" PRIu32 " ms for the target to come free "
			"(an earlier run's I/O draining)\n",
			s->claim_wait_ms);
	if (s->resume_refused)
		fprintf(stderr, "resync: %s\n", resync_resume_refused(o->r));
	fprintf(stderr, "resync: source %s, target %s%s\n",
		s->source_direct ? "O_DIRECT" : "buffered I/O (O_DIRECT refused or disabled)",
		s->target_direct ? "O_DIRECT" : "buffered I/O (O_DIRECT refused or disabled)",
		s->resumed ? ", resuming from the checkpoint" : "");
	fprintf(stderr, "resync: %s\n", resync_io_choice(o->r, NULL, NULL, NULL));
}

static void on_progress(const struct resync_stats *s, void *arg)
{
	struct output *o = arg;
	say_access(o, s);
	if (o->json)
		print_json(json_stats(s, "progress"));
	if (!o->bar || s->phase == RESYNC_PHASE_DONE)
		return;
	double secs = (double)s->elapsed_ns / 1e9;
	struct rc_progress p = {
		.fraction = s->bytes_planned ? (double)s->bytes_done / (double)s->bytes_planned : 1,
		.done = s->bytes_done,
		.total = s->bytes_planned,
		.rate = secs > 0 ? (double)s->bytes_done / secs : 0,
		.label = phase_name(s->phase),
	};
	rc_progress_draw(stderr, &p);
}

void output_start(struct output *o, resync *r, const char *command)
{
	o->command = command;
	o->r = r;
	if (!o->json && isatty(STDERR_FILENO))
		o->bar = true;
	uint32_t ms = o->interval_ms ? (uint32_t)o->interval_ms : o->json ? 1000 : 200;
	if (o->bar || o->json || o->verbose)
		resync_set_progress(r, on_progress, o, ms);
}

void output_finish(struct output *o, resync *r, int ret, int status)
{
	struct resync_stats s;
	resync_get_stats(r, &s);
	if (o->bar)
		fputc('\n', stderr);
	if (o->json || o->stats) {
		json_object *j = json_stats(&s, "result");
		json_object_object_add(j, "command", json_object_new_string(o->command));
		json_object_object_add(j, "status", json_object_new_int(status));
		if (ret)
			json_object_object_add(j, "errno",
					       json_object_new_string(errno_name(-ret)));
		if (s.resume_refused)
			json_object_object_add(j, "resume_refused_reason",
					       json_object_new_string(resync_resume_refused(r)));
		if (ret) {
			json_object_object_add(j, "error", json_object_new_string(resync_error(r)));
			if (resync_error_offset(r) != UINT64_MAX)
				json_object_object_add(j, "error_offset",
						       json_object_new_uint64(
							       resync_error_offset(r)));
		}
		print_json(j);
	}
	if (ret) {
		fprintf(stderr, "resync: %s\n", *resync_error(r) ? resync_error(r) : "failed");
		return;
	}
	if (o->json || o->stats)
		return;
	double secs = (double)s.elapsed_ns / 1e9;
	if (!strcmp(o->command, "copy"))
		fprintf(stderr,
			"resync: copied %.1f MiB planned in %.2fs: %.1f MiB written, %.1f MiB zeroed, "
			"%.1f MiB equal, %.1f MiB already zero (%.0f MiB/s)\n",
			mib(s.bytes_planned), secs, mib(s.bytes_written), mib(s.bytes_zeroed),
			mib(s.bytes_skipped_equal), mib(s.bytes_skipped_zero),
			secs > 0 ? mib(s.bytes_planned) / secs : 0);
	else
		fprintf(stderr, "resync: source and target are identical (%.1f MiB in %.2fs)\n",
			mib(s.size), secs);
}
