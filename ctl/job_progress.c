/* SPDX-License-Identifier: MIT */
/*
 * The job record's progress figures (CIM_ConcreteJob PercentComplete,
 * BytesExamined, BytesWritten, BytesZeroed, BytesSkippedEqual,
 * RateBytesPerSecond, ElapsedTime, and per disk), copied from the engine's
 * statistics by the worker's main loop; per disk also the request size and
 * queue depth the engine copies with and why (RequestSize, QueueDepth,
 * IoChoice), once it copies.  BytesCopied is BytesExamined under
 * its schema 1 name: it counts equal bytes a compare did not write.
 */
#include <pthread.h>
#include "cim_time.h"
#include "clock.h"
#include "job.h"
#include "vm.h"
#include "worker_internal.h"

void worker_set_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* Copies the engine's figures into the job record and saves it. */
void worker_record_progress(struct worker *w, bool completed)
{
	json_object *arr = json_object_object_get(w->job, "Disks");
	uint64_t planned = 0, done = 0, total = 0, elapsed = rc_now_ns() - w->start_ns;
	uint64_t written = 0, zeroed = 0, equal = 0;
	double frac = 0;
	char iv[CTL_CIM_INTERVAL_LEN];

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++) {
		struct wdisk *d = &w->disks[i];
		json_object *o = json_object_array_get_idx(arr, i);
		total += d->size;
		planned += d->st.bytes_planned;
		done += d->st.bytes_done;
		written += d->st.bytes_written;
		zeroed += d->st.bytes_zeroed;
		equal += d->st.bytes_skipped_equal;
		if (d->done)
			frac += (double)d->size;
		else if (d->st.bytes_planned)
			frac += (double)d->size * (double)d->st.bytes_done /
				(double)d->st.bytes_planned;
		worker_set_int(o, "BytesToCopy", (int64_t)d->st.bytes_planned);
		worker_set_int(o, "BytesCopied", (int64_t)d->st.bytes_done);
		worker_set_int(o, "BytesExamined", (int64_t)d->st.bytes_done);
		worker_set_int(o, "BytesWritten", (int64_t)d->st.bytes_written);
		worker_set_int(o, "BytesZeroed", (int64_t)d->st.bytes_zeroed);
		worker_set_int(o, "BytesSkippedEqual", (int64_t)d->st.bytes_skipped_equal);
		worker_set_int(o, "BytesVerified", (int64_t)d->st.bytes_verified);
		if (d->io_request) {
			worker_set_int(o, "RequestSize", d->io_request);
			worker_set_int(o, "QueueDepth", d->io_depth);
			json_object_object_add(o, "IoChoice", json_object_new_string(d->io_choice));
		}
		if (d->fell_back) {
			json_object_object_add(o, "FellBackFrom",
					       json_object_new_string(
						       ctl_change_source_name(d->from)));
			json_object_object_add(o, "ChangeSource",
					       json_object_new_string(
						       ctl_change_source_name(d->cs)));
			json_object_object_add(o, "ChangeSourceArg", json_object_new_string(""));
			json_object_object_add(o, "ChangeSourceReason",
					       json_object_new_string(d->trust.reason));
			json_object_object_add(o, "TrustRule",
					       json_object_new_string(d->trust.rule));
			json_object_object_add(o, "TrustReason",
					       json_object_new_string(d->trust.reason));
		}
		/* One fact, the engine's: a run that started from a checkpoint
		 * continues the job that offered it. */
		json_object_object_add(o, "Resumed", json_object_new_boolean(d->st.resumed));
		json_object_object_add(o, "ResumedFrom",
				       json_object_new_string(
					       d->st.resumed ?
						       ctl_json_str(o, "ResumeOffered") ?: "" :
						       ""));
		json_object_object_add(o, "Completed", json_object_new_boolean(d->done));
	}
	pthread_mutex_unlock(&w->mu);
	int pct = total ? (int)(frac * 100 / (double)total) : 0;
	if (completed)
		pct = 100;
	else if (pct > 99)
		pct = 99;
	worker_set_int(w->job, "PercentComplete", pct);
	worker_set_int(w->job, "BytesToCopy", (int64_t)planned);
	worker_set_int(w->job, "BytesCopied", (int64_t)done);
	worker_set_int(w->job, "BytesExamined", (int64_t)done);
	worker_set_int(w->job, "BytesWritten", (int64_t)written);
	worker_set_int(w->job, "BytesZeroed", (int64_t)zeroed);
	worker_set_int(w->job, "BytesSkippedEqual", (int64_t)equal);
	worker_set_int(w->job, "RateBytesPerSecond",
		       elapsed ? (int64_t)((double)done * 1e9 / (double)elapsed) : 0);
	ctl_cim_interval(elapsed, iv);
	json_object_object_add(w->job, "ElapsedTime", json_object_new_string(iv));
	worker_set_int(w->job, "ElapsedMilliseconds", (int64_t)(elapsed / 1000000));
	ctl_job_save(&w->st, w->job, NULL);
}
