/* SPDX-License-Identifier: MIT */
/* resyncctl failover and failback: options and settings to state_machine.h
 * and failback.h. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "cli.h"
#include "disk_spec.h"
#include "failback.h"
#include "settings.h"
#include "state_machine.h"
#include "view.h"
#include "vm.h"

static const char failover_usage[] =
	"Usage: resyncctl failover VM [--recovery-point ID] [--track DISK=LOG]...\n"
	"       resyncctl failover VM --commit\n"
	"Fails a Replica VM over to a recovery point (default: the latest): state\n"
	"5 Recovered.  --commit makes a Recovered VM's failover final: state 6 Committed.\n"
	"--track records that the recovery VM's server (nbdkit --filter=resync-track)\n"
	"keeps DISK's tracking log at LOG, relative to the generation the target holds\n"
	"now (printed as its base: serve a new log with generation=BASE).  Recovery\n"
	"points added from then on use that log for DISK unless they name a change\n"
	"record; a disk not given --track forgets an earlier log.  resyncctl does not\n"
	"start the server.  A comma or backslash in LOG is written \\, or \\\\.\n";

static const char failback_usage[] =
	"Usage: resyncctl failback VM [--recovery-point ID] [--settings FILE|-|JSON]\n"
	"                             [--wait [--timeout SECONDS]]\n"
	"InitiateFailback: resyncs the VM's disks from a recovery point (default:\n"
	"the latest) onto their targets in a detached job.  Prints ReturnValue 4096\n"
	"and the job id; with --wait, follows the job and prints 0 when it completed,\n"
	"or its ErrorCode, or 32772 when --timeout passed (the job goes on).\n"
	"Settings (JSON object): disks, change_source (auto|bitmap|nbd-dirty|extents|\n"
	"compare|full), verify, rate_limit, queue_depth, request_size, tls,\n"
	"nbd_connect_timeout_ms.\n"
	"See resyncctl(1) for return values and exit status.\n";

static void print_tracking(json_object *out)
{
	json_object *logs = json_object_object_get(out, "TrackingLogs");

	for (size_t i = 0; i < json_object_array_length(logs); i++) {
		json_object *l = json_object_array_get_idx(logs, i);
		printf("Disk %s: tracking log %s, base generation %s\n", ctl_json_str(l, "Disk"),
		       ctl_json_str(l, "Path"), ctl_json_str(l, "BaseGenerationId"));
	}
}

/* "DISK=LOG" (LOG made absolute) into t; NULL, or why it is refused. */
static const char *parse_track(const char *spec, struct rc_disk_spec *ds, struct ctl_track_log *t,
			       char *abs, size_t len)
{
	if (rc_disk_spec_parse(spec, ds) < 0)
		return "wants DISK=LOG";
	if (ds->n)
		return "takes no options after LOG (a comma in a path is written \\,)";
	if (cli_abs_path(ds->target, abs, len) < 0)
		return "path too long";
	t->disk = ds->name;
	t->path = abs;
	return NULL;
}

/* What failover recorded, as the VM record now has it. */
static json_object *tracking_out(struct cli *c, const char *name)
{
	json_object *vm = NULL, *out = json_object_new_object(), *arr = json_object_new_array();
	json_object *disks;

	json_object_object_add(out, "TrackingLogs", arr);
	if (ctl_vm_load(&c->store, name, &vm, NULL))
		return out;
	disks = json_object_object_get(vm, "Disks");
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i), *tl, *l;
		if (!json_object_object_get_ex(d, "TrackingLog", &tl))
			continue;
		l = json_object_new_object();
		json_object_object_add(l, "Disk", json_object_new_string(ctl_json_str(d, "Name")));
		json_object_object_add(l, "Path", json_object_new_string(ctl_json_str(tl, "Path")));
		json_object_object_add(l, "BaseGenerationId",
				       json_object_new_string(
					       ctl_json_str(tl, "BaseGenerationId")));
		json_object_array_add(arr, l);
	}
	json_object_put(vm);
	return out;
}

int cli_failover(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recovery-point", required_argument, NULL, 'r' },
		{ "commit", no_argument, NULL, 'c' },
		{ "track", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_err e = { "" };
	struct ctl_track_log *tracks = calloc((size_t)argc, sizeof(*tracks));
	struct rc_disk_spec *specs = calloc((size_t)argc, sizeof(*specs));
	char(*abs)[PATH_MAX] = calloc((size_t)argc, sizeof(*abs));
	const char *rp = NULL, *bad;
	bool commit = false;
	size_t n = 0;
	uint32_t rv;
	int o, ret;

	if (!tracks || !specs || !abs) {
		ret = cli_finish(c, ctl_fail(&e, RESYNC_RV_OUT_OF_MEMORY, "out of memory"), NULL,
				 &e, NULL);
		goto out;
	}
	if (cli_help(argc, argv, failover_usage)) {
		ret = 0;
		goto out;
	}
	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o == 'r') {
			rp = optarg;
		} else if (o == 'c') {
			commit = true;
		} else if (o == 't') {
			bad = parse_track(optarg, &specs[n], &tracks[n], abs[n], sizeof(abs[n]));
			n++;
			if (bad) {
				ret = cli_usage(c, failover_usage, "--track %s: %s", optarg, bad);
				goto out;
			}
		} else {
			ret = cli_bad_option(c, failover_usage, o, argv);
			goto out;
		}
	}
	if (optind + 1 != argc)
		ret = cli_usage(c, failover_usage, "failover wants one VM");
	else if (commit && (rp || n))
		ret = cli_usage(c, failover_usage, "--commit takes no --recovery-point or --track");
	else if ((rv = cli_open(c, &e)) ||
		 (rv = ctl_failover_tracked(&c->store, argv[optind], rp, commit, tracks, n, &e)))
		ret = cli_finish(c, rv, NULL, &e, NULL);
	else
		ret = cli_finish(c, 0, commit ? NULL : tracking_out(c, argv[optind]), &e,
				 print_tracking);
out:
	for (size_t i = 0; specs && i < n; i++)
		rc_disk_spec_free(&specs[i]);
	free(tracks);
	free(specs);
	free(abs);
	return ret;
}

/* "-": standard input; text starting with '{' or '[': inline JSON (an array
 * is then refused as not an object, 32776), with '<' inline CIM-XML; else a
 * file.  A file is read up to one byte past what settings may hold, so the
 * parser refuses it as too long without this holding all of it. */
static uint32_t read_settings(const char *arg, char **out, struct ctl_err *e)
{
	const char *p = arg + strspn(arg, " \t\r\n");
	FILE *f;
	size_t cap = 0, len = 0, n;
	char *buf = NULL;

	*out = NULL;
	if (*p == '{' || *p == '[' || *p == '<') {
		*out = strdup(arg);
		return *out ? 0 : ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	}
	f = strcmp(arg, "-") ? fopen(arg, "re") : stdin;
	if (!f)
		return ctl_fail(e, ctl_rv_from_errno(-errno), "settings %s: %s", arg,
				strerror(errno));
	do {
		if (len + 4096 >= cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);
			if (!nb) {
				free(buf);
				if (f != stdin)
					fclose(f);
				return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0 && len <= CTL_SETTINGS_MAX_LEN);
	buf[len] = '\0';
	if (f != stdin)
		fclose(f);
	if (strlen(buf) != len) {
		free(buf);
		return ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE, "settings %s: not JSON text",
				arg);
	}
	*out = buf;
	return 0;
}

static void print_failback(json_object *out)
{
	printf("Job: %s\n", ctl_json_str(out, "JobId"));
}

/* --wait: the record the wait ended on follows the id. */
static void print_failback_waited(json_object *out)
{
	json_object *job = json_object_object_get(out, "Job");

	print_failback(out);
	if (job)
		cli_print_job(job);
}

int cli_failback(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recovery-point", required_argument, NULL, 'r' },
		{ "settings", required_argument, NULL, 's' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_failback_req req = { 0 };
	struct ctl_err e = { "" };
	const char *settings_arg = NULL;
	char *settings = NULL, *end, job[CTL_JOB_ID_LEN];
	json_object *out = NULL, *details = NULL;
	long long timeout_ms = -1;
	bool wait = false;
	uint32_t rv;
	double secs;
	int o;

	if (cli_help(argc, argv, failback_usage))
		return 0;
	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			req.recovery_point = optarg;
			break;
		case 's':
			settings_arg = optarg;
			break;
		case 'w':
			wait = true;
			break;
		case 't':
			secs = strtod(optarg, &end);
			if (!*optarg || *end || secs < 0 || secs > 1e9)
				return cli_usage(c, failback_usage, "bad --timeout \"%s\"", optarg);
			timeout_ms = (long long)(secs * 1000);
			break;
		default:
			return cli_bad_option(c, failback_usage, o, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(c, failback_usage, "failback wants one VM");
	if (timeout_ms >= 0 && !wait)
		return cli_usage(c, failback_usage, "--timeout needs --wait");
	req.vm = argv[optind];
	rv = settings_arg ? read_settings(settings_arg, &settings, &e) : 0;
	req.settings = settings;
	if (!rv)
		rv = cli_open(c, &e);
	if (!rv)
		rv = ctl_initiate_failback(&c->store, &req, job, &e);
	free(settings);
	if (rv != RESYNC_RV_JOB_STARTED)
		return cli_finish(c, rv, NULL, &e, NULL);
	if (wait)
		rv = cli_wait_job(c, job, timeout_ms, &details, &e);
	out = ctl_view_job_started(&c->store, job, details);
	return cli_finish(c, rv, out, &e, wait ? print_failback_waited : print_failback);
}
