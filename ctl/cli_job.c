/* SPDX-License-Identifier: MIT */
/* resyncctl job list|show|wait|suspend|resume|terminate|remove (job.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "cli.h"
#include "job.h"
#include "vm.h"

static const char job_usage[] =
	"Usage: resyncctl job list [--vm VM]\n"
	"       resyncctl job show JOB\n"
	"       resyncctl job wait JOB [--timeout SECONDS]\n"
	"       resyncctl job suspend|resume|terminate|kill JOB\n"
	"       resyncctl job request-state-change JOB STATE\n"
	"       resyncctl job remove JOB\n"
	"suspend, resume, terminate and kill are RequestStateChange 3, 2, 4 and 5:\n"
	"ReturnValue 0 done, 4096 transition started, 4097 invalid transition,\n"
	"5 invalid RequestedState.  wait prints 0 when the job completed, its\n"
	"ErrorCode when it failed, 32772 when --timeout passed.\n";

static void print_job_out(json_object *out)
{
	json_object *job = json_object_object_get(out, "Job");

	if (json_object_is_type(job, json_type_object))
		cli_print_job(job);
}

static void print_job_list(json_object *out)
{
	json_object *jobs = json_object_object_get(out, "Jobs");

	printf("%-36s %-16s %-14s %4s %s\n", "JOB", "VM", "STATE", "PCT", "ERROR");
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		json_object *j = json_object_array_get_idx(jobs, i);
		char st[24];
		snprintf(st, sizeof(st), "%u %s", ctl_json_u32(j, "JobState"),
			 cli_job_state_name(ctl_json_u32(j, "JobState")));
		printf("%-36s %-16s %-14s %3u%% %u\n", ctl_json_str(j, "InstanceID"),
		       ctl_json_str(j, "VirtualSystem"), st, ctl_json_u32(j, "PercentComplete"),
		       ctl_json_u32(j, "ErrorCode"));
	}
}

static void print_job_id(json_object *out)
{
	printf("Job: %s\n", ctl_json_str(out, "JobId"));
}

static int job_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_err e = { "" };
	const char *vm = NULL;
	json_object *jobs = NULL, *out;
	uint32_t rv;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o != 'v')
			return cli_bad_option(c, job_usage, o, argv);
		vm = optarg;
	}
	if (optind != argc)
		return cli_usage(c, job_usage, "job list takes no arguments");
	rv = cli_open(c, &e);
	if (!rv)
		rv = ctl_job_list(&c->store, vm, &jobs, &e);
	out = json_object_new_object();
	json_object_object_add(out, "Jobs", jobs ? jobs : json_object_new_array());
	return cli_finish(c, rv, out, &e, print_job_list);
}

static int job_wait(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_err e = { "" };
	long long timeout_ms = -1;
	json_object *job = NULL, *out = NULL;
	char *end;
	double secs;
	uint32_t rv;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o != 't')
			return cli_bad_option(c, job_usage, o, argv);
		secs = strtod(optarg, &end);
		if (!*optarg || *end || secs < 0 || secs > 1e9)
			return cli_usage(c, job_usage, "bad --timeout \"%s\"", optarg);
		timeout_ms = (long long)(secs * 1000);
	}
	if (optind + 1 != argc)
		return cli_usage(c, job_usage, "job wait wants one JOB");
	rv = cli_open(c, &e);
	if (!rv)
		rv = cli_wait_job(c, argv[optind], timeout_ms, &job, &e);
	if (job) {
		out = json_object_new_object();
		json_object_object_add(out, "Job", job);
	}
	return cli_finish(c, rv, out, &e, print_job_out);
}

static int request(struct cli *c, const char *id, uint32_t state)
{
	struct ctl_err e = { "" };
	json_object *out = json_object_new_object();
	uint32_t rv = cli_open(c, &e);

	if (!rv)
		rv = ctl_job_request_state(&c->store, id, state, &e);
	json_object_object_add(out, "JobId", json_object_new_string(id));
	return cli_finish(c, rv, out, &e, print_job_id);
}

int cli_job(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		uint32_t state;
	} verbs[] = {
		{ "resume", RESYNC_REQUEST_START },
		{ "suspend", RESYNC_REQUEST_SUSPEND },
		{ "terminate", RESYNC_REQUEST_TERMINATE },
		{ "kill", RESYNC_REQUEST_KILL },
	};
	struct ctl_err e = { "" };
	json_object *job = NULL, *out = NULL;
	uint32_t rv;

	if (argc < 2)
		return cli_usage(c, job_usage, "job wants a subcommand");
	if (cli_help(argc, argv, job_usage))
		return 0;
	if (!strcmp(argv[1], "list"))
		return job_list(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "wait"))
		return job_wait(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "request-state-change")) {
		char *end;
		unsigned long v;
		if (argc != 4)
			return cli_usage(c, job_usage, "request-state-change wants JOB and STATE");
		v = strtoul(argv[3], &end, 10);
		if (!*argv[3] || *end)
			return cli_usage(c, job_usage, "STATE must be a number");
		return request(c, argv[2], v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
	}
	if (argc != 3)
		return cli_usage(c, job_usage, "job %s wants one JOB", argv[1]);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name))
			return request(c, argv[2], verbs[i].state);
	if (!strcmp(argv[1], "show")) {
		rv = cli_open(c, &e);
		if (!rv)
			rv = ctl_job_get(&c->store, argv[2], &job, &e);
		if (!rv) {
			out = json_object_new_object();
			json_object_object_add(out, "Job", job);
		}
		return cli_finish(c, rv, out, &e, print_job_out);
	}
	if (!strcmp(argv[1], "remove")) {
		rv = cli_open(c, &e);
		if (!rv)
			rv = ctl_job_remove(&c->store, argv[2], &e);
		return cli_finish(c, rv, NULL, &e, NULL);
	}
	return cli_usage(c, job_usage, "unknown job subcommand \"%s\"", argv[1]);
}
