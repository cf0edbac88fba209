/* SPDX-License-Identifier: MIT */
/* Job workers in transient systemd scopes (job_unit.h). */
#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include "job.h"
#include "json_get.h"
#include "job_unit.h"

/* StartTransientUnit(name, "fail", [Description, PIDs, CollectMode], []):
 * PIDs moves a running process into the new scope. */
static int start_scope(const char *unit, const char *desc, pid_t pid, char *why, size_t n)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus *bus = NULL;
	int r = sd_bus_open_system(&bus);

	if (r < 0) {
		snprintf(why, n, "system bus: %s", strerror(-r));
		return r;
	}
	r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
					   "/org/freedesktop/systemd1",
					   "org.freedesktop.systemd1.Manager",
					   "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", unit, "fail");
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sv)", 3, "Description", "s", desc, "PIDs", "au", 1,
					  (uint32_t)pid, "CollectMode", "s", "inactive-or-failed");
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0)
		snprintf(why, n, "building the call: %s", strerror(-r));
	else if ((r = sd_bus_call(bus, m, 0, &err, &reply)) < 0)
		snprintf(why, n, "StartTransientUnit: %s",
			 err.message ? err.message : strerror(-r));
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : 0;
}

void rd_job_unit_adopt(struct rd_daemon *d, const char *job_id)
{
	struct ctl_err e = { 0 };
	json_object *job = NULL;
	char unit[128], desc[192], why[256];
	long long start, now;
	pid_t pid;

	if (ctl_job_load(&d->store, job_id, &job, &e)) {
		rd_log("job %s: not moved into a unit: %s", job_id, e.msg);
		return;
	}
	pid = (pid_t)ctl_json_u32(job, "WorkerPid");
	start = json_object_get_int64(json_object_object_get(job, "WorkerStartTime"));
	json_object_put(job);
	snprintf(unit, sizeof(unit), "resync-job-%s.scope", job_id);
	/* The pid names the worker only while its start time matches: a
	 * worker that already ended must not have its pid's next owner
	 * moved.  (systemd 252 takes no pidfd here.) */
	if (pid <= 0 || ctl_proc_start_time(pid, &now) || now != start) {
		rd_log("job %s: not moved into %s: its worker has ended", job_id, unit);
		return;
	}
	snprintf(desc, sizeof(desc), "resync failback job %s", job_id);
	if (start_scope(unit, desc, pid, why, sizeof(why)) < 0)
		rd_log("job %s: not moved into %s (the worker stays in resyncd's cgroup): %s",
		       job_id, unit, why);
	else
		rd_log("job %s: worker %d moved into %s", job_id, (int)pid, unit);
}
