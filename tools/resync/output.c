/* SPDX-License-Identifier: MIT */
/* resync's output: the progress bar, JSON lines and the summary (output.h). */
#include <inttypes.h>
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

static void print_json_stats(FILE *f, const struct resync_stats *s, const char *event)
{
	fprintf(f,
		"{\"event\":\"%s\",\"phase\":\"%s\",\"size\":%" PRIu64 ",\"bytes_planned\":%" PRIu64
		",\"bytes_done\":%" PRIu64 ",\"bytes_read\":%" PRIu64 ",\"bytes_written\":%" PRIu64
		",\"bytes_zeroed\":%" PRIu64 ",\"bytes_skipped_equal\":%" PRIu64
		",\"bytes_skipped_zero\":%" PRIu64 ",\"bytes_differing\":%" PRIu64
		",\"elapsed_ns\":%" PRIu64 ",\"checkpoints\":%" PRIu64
		",\"source_direct\":%s,\"target_direct\":%s,\"resumed\":%s"
		",\"bytes_verified\":%" PRIu64 ",\"verify_unplanned_diff\":%s"
		",\"resume_refused\":%s,\"claim_wait_ms\":%" PRIu32,
		event, phase_name(s->phase), s->size, s->bytes_planned, s->bytes_done, s->bytes_read,
		s->bytes_written, s->bytes_zeroed, s->bytes_skipped_equal, s->bytes_skipped_zero,
		s->bytes_differing, s->elapsed_ns, s->checkpoints, s->source_direct ? "true" : "false",
		s->target_direct ? "true" : "false", s->resumed ? "true" : "false", s->bytes_verified,
		s->verify_unplanned_diff ? "true" : "false", s->resume_refused ? "true" : "false",
		s->claim_wait_ms);
}

static void print_json_string(FILE *f, const char *name, const char *v)
{
	fprintf(f, ",\"%s\":\"", name);
	for (const char *p = v; *p; p++)
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	fputc('"', f);
}

static void say_access(struct output *o, const struct resync_stats *s)
{
	if (!o->verbose || o->said_access || s->phase < RESYNC_PHASE_COPY)
		return;
	o->said_access = true;
	/* Waiting means a killed run's ring still held the target: its
	 * writes were draining. */
	if (s->claim_wait_ms)
		fprintf(stderr, "resync: waited %" PRIu32 " ms for the target to come free "
			"(an earlier run's I/O draining)\n", s->claim_wait_ms);
	if (s->resume_refused)
		fprintf(stderr, "resync: %s\n", resync_resume_refused(o->r));
	fprintf(stderr, "resync: source %s, target %s%s\n",
		s->source_direct ? "O_DIRECT" : "buffered I/O (O_DIRECT refused or disabled)",
		s->target_direct ? "O_DIRECT" : "buffered I/O (O_DIRECT refused or disabled)",
		s->resumed ? ", resuming from the checkpoint" : "");
}

static void on_progress(const struct resync_stats *s, void *arg)
{
	struct output *o = arg;
	say_access(o, s);
	if (o->json) {
		print_json_stats(stdout, s, "progress");
		fputs("}\n", stdout);
		fflush(stdout);
	}
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

void output_finish(struct output *o, resync *r, int ret)
{
	struct resync_stats s;
	resync_get_stats(r, &s);
	if (o->bar)
		fputc('\n', stderr);
	if (o->json || o->stats) {
		print_json_stats(stdout, &s, "result");
		fprintf(stdout, ",\"command\":\"%s\",\"status\":%d", o->command, ret);
		if (s.resume_refused)
			print_json_string(stdout, "resume_refused_reason", resync_resume_refused(r));
		if (ret) {
			print_json_string(stdout, "error", resync_error(r));
			if (resync_error_offset(r) != UINT64_MAX)
				fprintf(stdout, ",\"error_offset\":%" PRIu64, resync_error_offset(r));
		}
		fputs("}\n", stdout);
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
