/* SPDX-License-Identifier: MIT */
/*
 * resyncctl events [--after ID] [--follow]: the store's event journal
 * (journal.h, doc/events.md), one event a line -- human text, or with
 * --json one JSON object a line -- then the ReturnValue line.  --follow
 * waits for new events (inotify, via ctl_journal_wait) until SIGINT or
 * SIGTERM, which end it with 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "cli.h"
#include "view.h"
#include "journal.h"
#include "json_get.h"

#define BATCH 1000
/* How long one wait lasts before --follow looks at its stop flag again. */
#define WAIT_MS 500

static const char events_usage[] =
	"Usage: resyncctl events [--after ID] [--follow] [--json]\n"
	"Prints the journal's events with an id above ID (default 0: every event\n"
	"kept), oldest first, one a line: ID TIME KIND VM [JOB] PROPERTY=VALUE...\n"
	"(with --json one JSON object a line), then the ReturnValue line.\n"
	"--follow keeps printing events as they are appended, until SIGINT or\n"
	"SIGTERM.  32773 when the events after ID are no longer kept (retention,\n"
	"doc/events.md): read the current state with vm show and job list.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_event(struct cli *c, json_object *ev)
{
	json_object *props = json_object_object_get(ev, "Properties");
	const char *job = ctl_json_str(ev, "JobId");

	if (c->json) {
		printf("%s\n",
		       json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
		return;
	}
	printf("%lld %s %s %s", (long long)json_object_get_int64(json_object_object_get(ev, "Id")),
	       ctl_json_str(ev, "Time") ?: "-", ctl_json_str(ev, "Kind") ?: "-",
	       ctl_json_str(ev, "VirtualSystem") ?: "-");
	if (job && *job)
		printf(" %s", job);
	if (json_object_is_type(props, json_type_object)) {
		json_object_object_foreach(props, k, v)
		{
			printf(" %s=%s", k, json_object_get_string(v));
		}
	}
	putchar('\n');
}

/* cli_finish, but with --json on one line like the events before it. */
static int finish(struct cli *c, uint32_t rv, const struct ctl_err *e)
{
	json_object *o;

	if (!c->json)
		return cli_finish(c, rv, NULL, e, NULL);
	o = ctl_view_reply(rv, NULL, e);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	fflush(stdout);
	return ctl_exit_status(rv);
}

/* Prints the events after *after, in batches, moving *after on. */
static uint32_t print_after(struct cli *c, uint64_t *after, struct ctl_err *e)
{
	for (;;) {
		json_object *evs;
		uint64_t oldest;
		int n = ctl_journal_read(&c->store, *after, BATCH, &evs, &oldest);
		if (n == -ERANGE) {
			uint64_t last = 0;
			ctl_journal_last(&c->store, &last);
			return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
					"the events after id %llu are not all in the journal, "
					"which keeps ids %llu to %llu (retention, or a new "
					"journal): read the current state with vm show and job list",
					(unsigned long long)*after, (unsigned long long)oldest,
					(unsigned long long)last);
		}
		if (n < 0)
			return ctl_fail(e, ctl_rv_from_errno(n), "reading %s/events: %s",
					c->store.path, ctl_journal_strerror(n));
		for (int i = 0; i < n; i++) {
			json_object *ev = json_object_array_get_idx(evs, (size_t)i);
			print_event(c, ev);
			*after = (uint64_t)json_object_get_int64(json_object_object_get(ev, "Id"));
		}
		json_object_put(evs);
		fflush(stdout);
		if (n < BATCH)
			return 0;
	}
}

int cli_events(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_err e = { "" };
	bool follow = false;
	uint64_t after = 0;
	uint32_t rv;
	char *end;
	int o;

	if (cli_help(argc, argv, events_usage))
		return 0;
	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o == 'f') {
			follow = true;
		} else if (o == 'a') {
			errno = 0;
			after = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				return cli_usage(c, events_usage,
						 "--after wants an event id (0 or more), not \"%s\"",
						 optarg);
		} else {
			return cli_bad_option(c, events_usage, o, argv);
		}
	}
	if (optind != argc)
		return cli_usage(c, events_usage, "events takes no arguments");
	rv = cli_open(c, &e);
	if (!rv && follow) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (!rv)
		rv = print_after(c, &after, &e);
	while (!rv && follow && !stop) {
		int w = ctl_journal_wait(&c->store, after, WAIT_MS);
		if (w > 0)
			rv = print_after(c, &after, &e);
		else if (w < 0 && w != -EINTR)
			rv = ctl_fail(&e, ctl_rv_from_errno(w), "waiting on %s/events: %s",
				      c->store.path, strerror(-w));
	}
	return finish(c, rv, &e);
}
