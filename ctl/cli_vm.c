/* SPDX-License-Identifier: MIT */
/* resyncctl vm add|list|show|remove: options to a VM record (vm.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "cli.h"
#include "disk_spec.h"
#include "view.h"
#include "vm.h"

static const char vm_usage[] =
	"Usage: resyncctl vm add NAME --disk DISK=TARGET[,generation=HEX]... [--mode MODE]\n"
	"       resyncctl vm list\n"
	"       resyncctl vm show NAME\n"
	"       resyncctl vm remove NAME\n"
	"Registers VMs and their disks.  TARGET is the disk on the new-primary side\n"
	"(file, block device or NBD URI) that failback writes; generation is the\n"
	"16-byte id (32 hex digits) of the state it holds, which change records are\n"
	"checked against.  MODE: none, primary, replica (default), test-replica,\n"
	"extended-replica.  A new VM is in state 3 Replicating (0 Disabled for none).\n"
	"A comma or backslash in TARGET is written \\, or \\\\.\n";

static int parse_mode(const char *s, uint32_t *mode)
{
	static const char *const names[] = { "none", "primary", "replica", "test-replica",
					     "extended-replica" };
	char *end;
	unsigned long v;

	for (uint32_t i = 0; i < 5; i++)
		if (!strcmp(s, names[i])) {
			*mode = i;
			return 0;
		}
	v = strtoul(s, &end, 10);
	if (*s && !*end && v <= RESYNC_MODE_EXTENDED_REPLICA) {
		*mode = (uint32_t)v;
		return 0;
	}
	return -1;
}

/* "DISK=TARGET[,generation=HEX]" (commas in TARGET written "\\,"); NULL
 * with the reason in why. */
static json_object *parse_disk(const char *spec, char *why, size_t n)
{
	struct rc_disk_spec ds;
	json_object *d = NULL;
	const char *gen = NULL;

	if (rc_disk_spec_parse(spec, &ds) < 0) {
		snprintf(why, n, "--disk wants DISK=TARGET[,generation=HEX], not \"%s\"", spec);
		goto out;
	}
	for (size_t i = 0; i < ds.n; i++) {
		const struct rc_disk_option *o = &ds.opt[i];
		if (!o->value || !rc_disk_option_is(o, "generation")) {
			snprintf(why, n,
				 "--disk %s: option \"%s\" is not an option (generation=; "
				 "a comma in a path is written \\,)",
				 ds.name, o->text);
			goto out;
		}
		if (gen) {
			snprintf(why, n, "--disk %s: option \"%s\" is given twice", ds.name,
				 o->text);
			goto out;
		}
		gen = o->value;
	}
	d = json_object_new_object();
	json_object_object_add(d, "Name", json_object_new_string(ds.name));
	json_object_object_add(d, "Target", json_object_new_string(ds.target));
	if (gen)
		json_object_object_add(d, "TargetGenerationId", json_object_new_string(gen));
out:
	rc_disk_spec_free(&ds);
	return d;
}

static int vm_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *disks = json_object_new_array(), *d;
	uint32_t mode = RESYNC_MODE_REPLICA, rv;
	struct ctl_err e = { "" };
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			d = parse_disk(optarg, e.msg, sizeof(e.msg));
			if (!d) {
				json_object_put(disks);
				return cli_usage(c, vm_usage, "%s", e.msg);
			}
			json_object_array_add(disks, d);
			break;
		case 'm':
			if (parse_mode(optarg, &mode) < 0) {
				json_object_put(disks);
				return cli_usage(c, vm_usage, "unknown replication mode \"%s\"",
						 optarg);
			}
			break;
		default:
			json_object_put(disks);
			return cli_bad_option(c, vm_usage, o, argv);
		}
	}
	if (optind + 1 != argc) {
		json_object_put(disks);
		return cli_usage(c, vm_usage, "vm add wants one NAME");
	}
	rv = cli_open(c, &e);
	if (rv) {
		json_object_put(disks);
		return cli_finish(c, rv, NULL, &e, NULL);
	}
	rv = ctl_vm_add(&c->store, argv[optind], mode, disks, &e);
	return cli_finish(c, rv, NULL, &e, NULL);
}

static void print_vm(json_object *out)
{
	json_object *vm = json_object_object_get(out, "Vm");
	json_object *disks = json_object_object_get(vm, "Disks");
	json_object *rps = json_object_object_get(vm, "RecoveryPoints");
	uint32_t mode = ctl_json_u32(vm, "ReplicationMode");
	uint32_t state = ctl_json_u32(vm, "ReplicationState");
	uint32_t health = ctl_json_u32(vm, "ReplicationHealth");

	printf("Name: %s\n", ctl_json_str(vm, "Name"));
	printf("ReplicationMode: %u (%s)\n", mode, cli_mode_name(mode));
	printf("ReplicationState: %u (%s)\n", state, cli_state_name(state));
	printf("ReplicationHealth: %u (%s)\n", health, cli_health_name(health));
	printf("FailedOverTo: %s\n", ctl_json_str(vm, "FailedOverTo") ?: "");
	printf("CurrentJob: %s\n", ctl_json_str(vm, "CurrentJob") ?: "");
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		printf("Disk %s: target %s, generation %s%s\n", ctl_json_str(d, "Name"),
		       ctl_json_str(d, "Target"),
		       *ctl_json_str(d, "TargetGenerationId") ?
			       ctl_json_str(d, "TargetGenerationId") :
			       "(none)",
		       json_object_get_boolean(json_object_object_get(d, "Inconsistent")) ?
			       ", INCONSISTENT (failback not finished)" :
			       "");
		json_object *tl = json_object_object_get(d, "TrackingLog");
		if (tl)
			printf("Disk %s: tracking log %s, base generation %s\n",
			       ctl_json_str(d, "Name"), ctl_json_str(tl, "Path"),
			       ctl_json_str(tl, "BaseGenerationId"));
	}
	for (size_t i = 0; i < json_object_array_length(rps); i++) {
		json_object *rp = json_object_array_get_idx(rps, i);
		printf("RecoveryPoint %s: %s %s\n", ctl_json_str(rp, "Id"),
		       ctl_json_str(rp, "CreationTime"), ctl_json_str(rp, "Type"));
	}
}

static void print_vm_list(json_object *out)
{
	json_object *vms = json_object_object_get(out, "Vms");

	printf("%-20s %-8s %-28s %-9s %s\n", "NAME", "MODE", "STATE", "HEALTH", "JOB");
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		json_object *vm = json_object_array_get_idx(vms, i);
		char st[40];
		snprintf(st, sizeof(st), "%u %s", ctl_json_u32(vm, "ReplicationState"),
			 cli_state_name(ctl_json_u32(vm, "ReplicationState")));
		printf("%-20s %-8s %-28s %-9s %s\n", ctl_json_str(vm, "Name"),
		       cli_mode_name(ctl_json_u32(vm, "ReplicationMode")), st,
		       cli_health_name(ctl_json_u32(vm, "ReplicationHealth")),
		       ctl_json_str(vm, "CurrentJob") ?: "");
	}
}

static int vm_list(struct cli *c)
{
	json_object *arr = NULL;
	struct ctl_err e = { "" };
	uint32_t rv = cli_open(c, &e);

	if (!rv)
		rv = ctl_vm_list(&c->store, &arr, &e);
	return cli_finish(c, rv, ctl_view_vms(arr), &e, rv ? NULL : print_vm_list);
}

static int vm_show(struct cli *c, const char *name)
{
	struct ctl_err e = { "" };
	json_object *vm = NULL, *out = NULL;
	uint32_t rv = cli_open(c, &e);

	if (!rv)
		rv = ctl_vm_load(&c->store, name, &vm, &e);
	if (!rv)
		out = ctl_view_vm(vm);
	return cli_finish(c, rv, out, &e, print_vm);
}

int cli_vm(struct cli *c, int argc, char **argv)
{
	struct ctl_err e = { "" };
	uint32_t rv;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2)
			return cli_usage(c, vm_usage, "vm wants a subcommand");
		fputs(vm_usage, stdout);
		return 0;
	}
	if (cli_help(argc - 1, argv + 1, vm_usage))
		return 0;
	if (!strcmp(argv[1], "add"))
		return vm_add(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return argc == 2 ? vm_list(c) :
				   cli_usage(c, vm_usage, "vm list takes no arguments");
	if (argc != 3)
		return cli_usage(c, vm_usage, "vm %s wants one NAME", argv[1]);
	if (!strcmp(argv[1], "show"))
		return vm_show(c, argv[2]);
	if (!strcmp(argv[1], "remove")) {
		rv = cli_open(c, &e);
		if (!rv)
			rv = ctl_vm_remove(&c->store, argv[2], &e);
		return cli_finish(c, rv, NULL, &e, NULL);
	}
	return cli_usage(c, vm_usage, "unknown vm subcommand \"%s\"", argv[1]);
}
