/* SPDX-License-Identifier: MIT */
/* What resync prints: a progress bar on a terminal, JSON progress lines, the
 * result. */
#ifndef RESYNC_TOOL_OUTPUT_H
#define RESYNC_TOOL_OUTPUT_H

#include <stdbool.h>
#include <resync/resync.h>

struct output {
	bool bar;   /* --progress, or stderr is a terminal */
	bool json;  /* JSON lines on stdout */
	bool stats; /* the final figures as JSON */
	bool verbose;
	bool said_access;
	uint64_t interval_ms; /* 0: 200 for the bar, 1000 for JSON */
	const char *command;
	resync *r;
};

/* Installs the progress callback on r. */
void output_start(struct output *o, resync *r, const char *command);
/* Prints the outcome of resync_run() (ret) and the exit status it gives. */
void output_finish(struct output *o, resync *r, int ret, int status);

#endif
