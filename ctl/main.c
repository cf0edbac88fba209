/* SPDX-License-Identifier: MIT */
/* resyncctl: the control plane of resync (see resyncctl(1)). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "resync/resync.h"
#include "cli.h"
#include "worker.h"

static const char usage[] =
	"Usage: resyncctl [--state-dir DIR] [--json] COMMAND ...\n"
	"Commands:\n"
	"  vm add|list|show|remove              register VMs and their disks\n"
	"  recovery-point add|list|show|remove  register a VM's recovery points\n"
	"  failover VM                          fail a Replica VM over (state 5 Recovered)\n"
	"  failback VM                          InitiateFailback: resync a recovery point\n"
	"                                       back onto the VM's targets in a job\n"
	"  job list|show|wait|suspend|resume|terminate|kill|remove\n"
	"  events [--after ID] [--follow]       the event journal: job and VM changes\n"
	"  version (also --version), --long-options, --short-options\n"
	"Every command prints \"ReturnValue: N\" (\"ReturnValue\": N with --json) and exits\n"
	"0 for 0 and 4096, N - 32767 for 32768..32779, 13 for 4097, 14 for 5.\n"
	"The state store is $RESYNC_STATE_DIR or " CTL_DEFAULT_STATE_DIR ".\n"
	"`resyncctl COMMAND --help` describes a command; resyncctl(1) all of them.\n";

/* The global options; each command's own are in its cli_*.c table. */
static const struct option global_options[] = {
	{ "state-dir", required_argument, NULL, 0 },
	{ "json", no_argument, NULL, 0 },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 0 },
	{ "long-options", no_argument, NULL, 0 },
	{ "short-options", no_argument, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

/* Takes the global options out of argv wherever they appear, so both
 * `resyncctl --json vm list` and `resyncctl vm list --json` work; -1 when
 * --state-dir ends the line without its value. */
static int take_globals(struct cli *c, int argc, char **argv)
{
	bool missing = false;
	int n = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--state-dir")) {
			if (i + 1 == argc)
				missing = true;
			else
				c->state_dir = argv[++i];
		} else if (!strncmp(argv[i], "--state-dir=", 12)) {
			c->state_dir = argv[i] + 12;
		} else if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	return missing ? -1 : n;
}

int main(int argc, char **argv)
{
	struct cli c = { .state_dir = ctl_store_default_path() };
	const char *cmd;
	int rc = ctl_worker_entry(argc, argv);

	if (rc >= 0)
		return rc;
	opterr = 0;
	argc = take_globals(&c, argc, argv);
	if (argc < 0)
		return cli_usage(&c, usage, "option \"--state-dir\" wants a value");
	if (argc < 2)
		return cli_usage(&c, usage, "no command given");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("resyncctl %s\nlib%s\n", RESYNC_PACKAGE_VERSION, resync_version());
		return 0;
	}
	/* For the bash completion. */
	if (!strcmp(cmd, "--long-options") || !strcmp(cmd, "--short-options")) {
		for (const struct option *o = global_options; o->name; o++)
			if (cmd[2] == 'l')
				printf("--%s\n", o->name);
			else if (o->val)
				printf("-%c\n", o->val);
		return 0;
	}
	if (!strcmp(cmd, "vm"))
		rc = cli_vm(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "recovery-point") || !strcmp(cmd, "rp"))
		rc = cli_recovery_point(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "failover"))
		rc = cli_failover(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "failback"))
		rc = cli_failback(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "job"))
		rc = cli_job(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "events"))
		rc = cli_events(&c, argc - 1, argv + 1);
	else
		rc = cli_usage(&c, usage, "unknown command \"%s\"", cmd);
	cli_close(&c);
	return rc;
}
