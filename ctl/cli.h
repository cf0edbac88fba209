/* SPDX-License-Identifier: MIT */
/*
 * The command-line edge: the only code in ctl/ that prints.  Every command
 * ends in cli_finish(), which prints "ReturnValue: N" (or a JSON object with
 * "ReturnValue") and returns the exit status.
 */
#ifndef CTL_CLI_H
#define CTL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "errmap.h"
#include "store.h"

struct cli {
	bool json;
	const char *state_dir;
	struct ctl_store store;
	bool opened;
};

typedef void (*cli_human_fn)(json_object *out);

/* Opens the state store: 0 or a return value with the reason in e. */
uint32_t cli_open(struct cli *c, struct ctl_err *e);
void cli_close(struct cli *c);
/* Prints the outcome and returns the exit status; takes over out (may be
 * NULL).  human prints out's data for people when rv is a success. */
int cli_finish(struct cli *c, uint32_t rv, json_object *out, const struct ctl_err *e,
	       cli_human_fn human);
/* A usage error: the message and 32773. */
int cli_usage(struct cli *c, const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A usage error (32773) for what getopt_long(":" optstring) returned:
 * ':' "option \"--settings\" wants a value", else "unknown option
 * \"--bogus\"".  argv and optind are getopt's. */
int cli_bad_option(struct cli *c, const char *usage, int o, char **argv);
/* True (after printing usage to stdout) when argv asks for --help. */
bool cli_help(int argc, char **argv, const char *usage);

/* path made absolute against the working directory (not resolved: a
 * symlink stays one), since the records outlive this process's cwd; 0, or
 * -ENAMETOOLONG. */
int cli_abs_path(const char *path, char *out, size_t len);

/* Names for numbers, for human output. */
const char *cli_state_name(uint32_t state);
const char *cli_mode_name(uint32_t mode);
const char *cli_health_name(uint32_t health);
const char *cli_job_state_name(uint32_t state);

/* Polls a job until it ends or timeout_ms passes (< 0: no limit), drawing a
 * progress bar when stderr is a terminal.  Returns 0 for Completed, the
 * job's ErrorCode (32768 when it has none) for another end, 32772 on
 * timeout; *job is the last record seen. */
uint32_t cli_wait_job(struct cli *c, const char *id, long long timeout_ms, json_object **job,
		      struct ctl_err *e);
void cli_print_job(json_object *job);

int cli_vm(struct cli *c, int argc, char **argv);
int cli_recovery_point(struct cli *c, int argc, char **argv);
int cli_failover(struct cli *c, int argc, char **argv);
int cli_failback(struct cli *c, int argc, char **argv);
int cli_job(struct cli *c, int argc, char **argv);
int cli_events(struct cli *c, int argc, char **argv);

#endif
