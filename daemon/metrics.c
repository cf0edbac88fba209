/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics, Prometheus text format 0.0.4, computed on each scrape from
 * the store's job records (so what resyncctl started counts too), plus the
 * daemon's own count of method calls by ReturnValue since it started.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/return_codes.h"
#include "resync/states.h"
#include "job.h"
#include "json_get.h"
#include "json_reply.h"
#include "resources.h"

/* 0, 4096 and 32768..32779: the ReturnValues a method call gives. */
#define RV_SLOTS 14
static _Atomic unsigned long long calls[RV_SLOTS];

static int rv_slot(uint32_t rv)
{
	if (rv == RESYNC_RV_COMPLETED)
		return 0;
	if (rv == RESYNC_RV_JOB_STARTED)
		return 1;
	if (rv >= RESYNC_RV_FAILED && rv <= RESYNC_RV_FILE_NOT_FOUND)
		return (int)(rv - RESYNC_RV_FAILED) + 2;
	return -1;
}

void rd_metrics_count(uint32_t rv)
{
	int i = rv_slot(rv);

	if (i >= 0)
		atomic_fetch_add(&calls[i], 1);
}

static const char *const job_states[] = { "",           "",          "New",          "Starting",
					  "Running",    "Suspended", "ShuttingDown", "Completed",
					  "Terminated", "Killed",    "Exception" };

void rd_metrics(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r)
{
	unsigned long long by_state[11] = { 0 }, by_code[RV_SLOTS] = { 0 }, written = 0, rate = 0;
	struct ctl_err e = { "" };
	json_object *jobs = NULL, *last = json_object_new_object();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	uint32_t rv = ctl_job_list(&d->store, NULL, &jobs, &e);

	if (rv) {
		json_object_put(last);
		json_object_put(jobs);
		rd_reply_rv(r, rv, NULL, &e);
		return;
	}
	/* Oldest first: the last Completed job of a VM is its latest. */
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		json_object *j = json_object_array_get_idx(jobs, i);
		uint32_t st = ctl_json_u32(j, "JobState"), code = ctl_json_u32(j, "ErrorCode");
		written += (unsigned long long)json_object_get_int64(
			json_object_object_get(j, "BytesWritten"));
		if (st == RESYNC_JOB_RUNNING)
			rate += (unsigned long long)json_object_get_int64(
				json_object_object_get(j, "RateBytesPerSecond"));
		if (st < 11)
			by_state[st]++;
		if (code && rv_slot(code) >= 0)
			by_code[rv_slot(code)]++;
		if (st == RESYNC_JOB_COMPLETED && ctl_json_str(j, "VirtualSystem"))
			json_object_object_add(
				last, ctl_json_str(j, "VirtualSystem"),
				json_object_get(json_object_object_get(j, "ElapsedMilliseconds")));
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		json_object_put(last);
		json_object_put(jobs);
		rd_reply_status(r, 503, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
		return;
	}
	/* Gauges, not counters: sums over the records present, which drop
	 * when a job is removed. */
	fprintf(f,
		"# HELP resync_job_bytes_written Bytes written to targets by the store's jobs.\n"
		"# TYPE resync_job_bytes_written gauge\n"
		"resync_job_bytes_written %llu\n",
		written);
	fprintf(f,
		"# HELP resync_copy_rate_bytes_per_second Copy rate of the running jobs.\n"
		"# TYPE resync_copy_rate_bytes_per_second gauge\n"
		"resync_copy_rate_bytes_per_second %llu\n",
		rate);
	fprintf(f, "# HELP resync_jobs Jobs in the store by JobState.\n"
		   "# TYPE resync_jobs gauge\n");
	for (int s = 2; s <= 10; s++)
		fprintf(f, "resync_jobs{state=\"%s\",job_state=\"%d\"} %llu\n", job_states[s], s,
			by_state[s]);
	fprintf(f, "# HELP resync_last_failback_duration_seconds Duration of each VM's latest "
		   "completed failback.\n"
		   "# TYPE resync_last_failback_duration_seconds gauge\n");
	json_object_object_foreach(last, vm, ms)
		fprintf(f, "resync_last_failback_duration_seconds{vm=\"%s\"} %.3f\n", vm,
			(double)json_object_get_int64(ms) / 1000);
	fprintf(f, "# HELP resync_job_errors The store's jobs that ended with an ErrorCode.\n"
		   "# TYPE resync_job_errors gauge\n");
	for (int i = 2; i < RV_SLOTS; i++)
		fprintf(f, "resync_job_errors{code=\"%d\"} %llu\n", RESYNC_RV_FAILED + i - 2,
			by_code[i]);
	fprintf(f, "# HELP resync_api_calls_total Method calls by ReturnValue since start.\n"
		   "# TYPE resync_api_calls_total counter\n");
	for (int i = 0; i < RV_SLOTS; i++)
		fprintf(f, "resync_api_calls_total{return_value=\"%d\"} %llu\n",
			i == 0 ? 0 :
			i == 1 ? 4096 :
				 RESYNC_RV_FAILED + i - 2,
			atomic_load(&calls[i]));
	fclose(f);
	json_object_put(last);
	json_object_put(jobs);
	r->status = 200;
	r->text = buf;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->rv = 0;
}
