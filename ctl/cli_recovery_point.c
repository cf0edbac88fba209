/* SPDX-License-Identifier: MIT */
/* resyncctl recovery-point add|list|show|remove: --disk specs
 * (common/disk_spec.h) and their options to recovery_point.h. */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "resync/return_codes.h"
#include "cli.h"
#include "disk_spec.h"
#include "guid.h"
#include "recovery_point.h"
#include "vm.h"

static const char rp_usage[] =
	"Usage: resyncctl recovery-point add VM ID --disk DISK=IMAGE[,OPTION]... [--time TIME]\n"
	"                                   [--type standard|application-consistent|planned-failover]\n"
	"       resyncctl recovery-point list VM\n"
	"       resyncctl recovery-point show VM ID\n"
	"       resyncctl recovery-point remove VM ID\n"
	"IMAGE is the recovery point's copy of the disk (file, block device or NBD URI).\n"
	"OPTIONs describe what changed since the state the target holds:\n"
	"  bitmap=FILE         a resync change bitmap (its header carries the base\n"
	"                      generation and the consistent flag)\n"
	"  track=FILE          a tracking log of nbdkit-resync-track-filter (its header\n"
	"                      carries the base generation; left open, its hot regions\n"
	"                      count as written).  Default, for a recovery point added\n"
	"                      after failover (state 5, 6, 13, 32768): the log that\n"
	"                      `failover --track` recorded for the disk\n"
	"  dirty-bitmap=NAME   qemu:dirty-bitmap:NAME on the NBD image\n"
	"  extents=FILE        \"offset length\" lines\n"
	"  base=HEX            dirty-bitmap/extents: the generation they are relative to\n"
	"  consistent          dirty-bitmap/extents: the record was closed cleanly\n"
	"  generation=HEX      the image's own generation id, recorded on the target\n"
	"                      after a failback to this point\n"
	"A comma or backslash in IMAGE or a FILE is written \\, or \\\\.\n"
	"TIME is RFC 3339 UTC (2026-11-25T06:00:00Z) or seconds since the epoch;\n"
	"default now.  The latest recovery point is the one with the latest TIME.\n";

/* One ",OPTION" of a recovery point's --disk; NULL or why it is refused. */
static const char *take_option(const struct rc_disk_option *o, json_object *d, json_object *cr)
{
	static const struct {
		const char *key, *kind, *field;
	} kinds[] = {
		{ "bitmap", "bitmap", "Path" },
		{ "dirty-bitmap", "nbd-dirty", "Name" },
		{ "extents", "extents", "Path" },
		{ "track", "track", "Path" },
	};
	uint8_t g[16];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!rc_disk_option_is(o, kinds[i].key) || !o->value)
			continue;
		if (!*o->value)
			return "wants a value";
		if (json_object_object_get(cr, "Kind"))
			return "is a second change record (one of bitmap=, track=, dirty-bitmap=, "
			       "extents=)";
		json_object_object_add(cr, "Kind", json_object_new_string(kinds[i].kind));
		json_object_object_add(cr, kinds[i].field, json_object_new_string(o->value));
		return NULL;
	}
	if (o->value && (rc_disk_option_is(o, "base") || rc_disk_option_is(o, "generation"))) {
		bool base = rc_disk_option_is(o, "base");
		json_object *to = base ? cr : d;
		const char *key = base ? "BaseGenerationId" : "ImageGenerationId";
		if (rc_guid_parse(o->value, g) < 0)
			return "must be 32 hex digits";
		if (json_object_object_get(to, key))
			return "is given twice";
		json_object_object_add(to, key, json_object_new_string(o->value));
		return NULL;
	}
	if (!o->value && rc_disk_option_is(o, "consistent")) {
		json_object_object_add(cr, "Consistent", json_object_new_boolean(true));
		return NULL;
	}
	return "is not an option (bitmap=, track=, dirty-bitmap=, extents=, base=, consistent, "
	       "generation=; a comma in a path is written \\,)";
}

/* "DISK=IMAGE[,OPTION]...", see rp_usage; NULL with the reason in why. */
static json_object *parse_disk(const char *spec, char *why, size_t n)
{
	struct rc_disk_spec ds;
	json_object *d = NULL, *cr = NULL;
	const char *bad = NULL;
	size_t i;

	if (rc_disk_spec_parse(spec, &ds) < 0) {
		snprintf(why, n, "--disk wants DISK=IMAGE[,OPTION]..., not \"%s\"", spec);
		goto out;
	}
	d = json_object_new_object();
	cr = json_object_new_object();
	json_object_object_add(d, "Name", json_object_new_string(ds.name));
	json_object_object_add(d, "Image", json_object_new_string(ds.target));
	for (i = 0; i < ds.n && !(bad = take_option(&ds.opt[i], d, cr)); i++)
		;
	if (bad) {
		snprintf(why, n, "--disk %s: option \"%s\" %s", ds.name, ds.opt[i].text, bad);
		goto fail;
	}
	if (!json_object_object_get(cr, "Kind")) {
		if (json_object_object_length(cr)) {
			snprintf(why, n,
				 "--disk %s: base= and consistent describe a change record "
				 "(dirty-bitmap= or extents=), and there is none",
				 ds.name);
			goto fail;
		}
		json_object_put(cr);
		goto out;
	}
	if (!strcmp(ctl_json_str(cr, "Kind"), "track")) {
		if (json_object_object_length(cr) > 2) {
			snprintf(why, n,
				 "--disk %s: a tracking log's header carries its base generation "
				 "and state: track= takes no base= or consistent",
				 ds.name);
			goto fail;
		}
		char abs[PATH_MAX];
		if (cli_abs_path(ctl_json_str(cr, "Path"), abs, sizeof(abs)) < 0) {
			snprintf(why, n, "--disk %s: track= path too long", ds.name);
			goto fail;
		}
		json_object_object_add(cr, "Path", json_object_new_string(abs));
	} else if (!json_object_object_get(cr, "Consistent")) {
		json_object_object_add(cr, "Consistent", json_object_new_boolean(false));
	}
	json_object_object_add(d, "ChangeRecord", cr);
	goto out;
fail:
	json_object_put(cr);
	json_object_put(d);
	d = NULL;
out:
	rc_disk_spec_free(&ds);
	return d;
}

static int parse_time(const char *s, long long *out)
{
	struct tm tm = { 0 };
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s && !*end && v >= 0) {
		*out = v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	*out = (long long)timegm(&tm);
	return 0;
}

static const char *parse_type(const char *s)
{
	if (!strcmp(s, "standard"))
		return "Standard";
	if (!strcmp(s, "application-consistent"))
		return "ApplicationConsistent";
	if (!strcmp(s, "planned-failover"))
		return "PlannedFailover";
	return NULL;
}

static int rp_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "time", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *disks = json_object_new_array(), *rp, *d;
	const char *type = "Standard";
	long long t = ctl_now();
	struct ctl_err e = { "" };
	char ts[32];
	uint32_t rv;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			d = parse_disk(optarg, e.msg, sizeof(e.msg));
			if (!d) {
				json_object_put(disks);
				return cli_usage(c, rp_usage, "%s", e.msg);
			}
			json_object_array_add(disks, d);
			break;
		case 't':
			if (parse_time(optarg, &t) < 0) {
				json_object_put(disks);
				return cli_usage(c, rp_usage, "bad --time \"%s\"", optarg);
			}
			break;
		case 'y':
			type = parse_type(optarg);
			if (!type) {
				json_object_put(disks);
				return cli_usage(c, rp_usage, "unknown --type \"%s\"", optarg);
			}
			break;
		default:
			json_object_put(disks);
			return cli_bad_option(c, rp_usage, o, argv);
		}
	}
	if (optind + 2 != argc) {
		json_object_put(disks);
		return cli_usage(c, rp_usage, "recovery-point add wants VM and ID");
	}
	rp = json_object_new_object();
	ctl_format_time(t, ts);
	json_object_object_add(rp, "Id", json_object_new_string(argv[optind + 1]));
	json_object_object_add(rp, "CreationTime", json_object_new_string(ts));
	json_object_object_add(rp, "CreationTimeEpoch", json_object_new_int64(t));
	json_object_object_add(rp, "Type", json_object_new_string(type));
	json_object_object_add(rp, "Disks", disks);
	rv = cli_open(c, &e);
	if (rv) {
		json_object_put(rp);
		return cli_finish(c, rv, NULL, &e, NULL);
	}
	rv = ctl_rp_add(&c->store, argv[optind], rp, &e);
	return cli_finish(c, rv, NULL, &e, NULL);
}

static void print_rp(json_object *rp)
{
	json_object *disks = json_object_object_get(rp, "Disks");

	printf("Id: %s\nCreationTime: %s\nType: %s\n", ctl_json_str(rp, "Id"),
	       ctl_json_str(rp, "CreationTime"), ctl_json_str(rp, "Type"));
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i), *cr;
		printf("Disk %s: image %s", ctl_json_str(d, "Name"), ctl_json_str(d, "Image"));
		if (json_object_object_get_ex(d, "ChangeRecord", &cr))
			printf(", change record %s %s%s", ctl_json_str(cr, "Kind"),
			       ctl_json_str(cr, "Path") ?: ctl_json_str(cr, "Name"),
			       json_object_get_boolean(json_object_object_get(cr, "Consistent")) ?
				       " (consistent)" :
				       "");
		printf("\n");
	}
}

static void print_rp_out(json_object *out)
{
	print_rp(json_object_object_get(out, "RecoveryPoint"));
}

static void print_rp_list(json_object *out)
{
	json_object *rps = json_object_object_get(out, "RecoveryPoints");

	printf("%-24s %-21s %s\n", "ID", "TIME", "TYPE");
	for (size_t i = 0; i < json_object_array_length(rps); i++) {
		json_object *rp = json_object_array_get_idx(rps, i);
		printf("%-24s %-21s %s\n", ctl_json_str(rp, "Id"), ctl_json_str(rp, "CreationTime"),
		       ctl_json_str(rp, "Type"));
	}
}

int cli_recovery_point(struct cli *c, int argc, char **argv)
{
	struct ctl_err e = { "" };
	json_object *vm = NULL, *out = NULL, *rp;
	uint32_t rv;

	if (argc < 2)
		return cli_usage(c, rp_usage, "recovery-point wants a subcommand");
	if (cli_help(argc, argv, rp_usage))
		return 0;
	if (!strcmp(argv[1], "add"))
		return rp_add(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list") ? argc != 3 : argc != 4)
		return cli_usage(c, rp_usage, "wrong number of arguments for recovery-point %s",
				 argv[1]);
	rv = cli_open(c, &e);
	if (rv)
		return cli_finish(c, rv, NULL, &e, NULL);
	if (!strcmp(argv[1], "remove"))
		return cli_finish(c, ctl_rp_remove(&c->store, argv[2], argv[3], &e), NULL, &e,
				  NULL);
	if (strcmp(argv[1], "list") && strcmp(argv[1], "show"))
		return cli_usage(c, rp_usage, "unknown recovery-point subcommand \"%s\"", argv[1]);
	rv = ctl_vm_load(&c->store, argv[2], &vm, &e);
	if (rv)
		return cli_finish(c, rv, NULL, &e, NULL);
	out = json_object_new_object();
	if (!strcmp(argv[1], "list")) {
		json_object_object_add(out, "RecoveryPoints",
				       json_object_get(
					       json_object_object_get(vm, "RecoveryPoints")));
		json_object_put(vm);
		return cli_finish(c, 0, out, &e, print_rp_list);
	}
	rp = ctl_name_valid(argv[3]) ? ctl_vm_rp(vm, argv[3]) : NULL;
	if (!rp) {
		json_object_put(vm);
		json_object_put(out);
		return cli_finish(c,
				  ctl_fail(&e, RESYNC_RV_INVALID_PARAMETER,
					   "unknown recovery point \"%s\"", argv[3]),
				  NULL, &e, NULL);
	}
	json_object_object_add(out, "RecoveryPoint", json_object_get(rp));
	json_object_put(vm);
	return cli_finish(c, 0, out, &e, print_rp_out);
}
