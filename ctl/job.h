/* SPDX-License-Identifier: MIT */
/*
 * Job records (CIM_ConcreteJob): jobs/ID/job.json beside jobs/ID/lock, which
 * the job's worker holds for its whole life, jobs/ID/log and the per-disk
 * checkpoints jobs/ID/DISK.ckpt.  While a worker lives only it writes the
 * record; a non-final job whose lock is free has lost its worker, and the
 * first reader to see that records it (JobState 10, ErrorCode 32771).
 */
#ifndef CTL_JOB_H
#define CTL_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "errmap.h"
#include "guid.h"
#include "store.h"

#define CTL_JOB_ID_LEN RC_GUID_TEXT_LEN

/* A random GUID, dashed, lower case; rc_guid_random's -errno (never an id
 * made without randomness) when it fails. */
int ctl_job_new_id(char id[CTL_JOB_ID_LEN]);
/* Creates jobs/ID with its lock taken, so no folder without a holder is
 * ever visible under a job's name (see ctl_store_sweep()): made under a
 * temporary name, locked, then renamed into place and made durable.
 * *dfd is the folder, *lockfd the lock; -EEXIST when ID exists. */
int ctl_job_create(struct ctl_store *s, const char *id, int *dfd, int *lockfd);
/* Field 22 of /proc/PID/stat, the process's start time in clock ticks since
 * boot: with the pid it names one process for the life of the system. */
int ctl_proc_start_time(pid_t pid, long long *start);
/* Completed, Terminated, Killed or Exception. */
bool ctl_job_state_final(uint32_t state);
/* 1 when the job's worker (or the CLI creating it) holds its lock. */
int ctl_job_alive(struct ctl_store *s, const char *id);
/* 1 when the job still holds its VM: its worker lives and its record is not
 * final.  A worker's last write is its final JobState (the VM's record is
 * written before it), so from then on it only exits: a reader that saw the
 * final state may start the next failback at once. */
int ctl_job_running(struct ctl_store *s, const char *id);

/* 0, 32773 for an unknown job, 32771 for an unreadable record. */
uint32_t ctl_job_load(struct ctl_store *s, const char *id, json_object **job, struct ctl_err *e);
uint32_t ctl_job_save(struct ctl_store *s, json_object *job, struct ctl_err *e);
/* ctl_job_load, then records a vanished worker (see above). */
uint32_t ctl_job_get(struct ctl_store *s, const char *id, json_object **job, struct ctl_err *e);
/* ctl_job_get for a caller holding the VM's lock: mark_vm false leaves the
 * VM record alone. */
uint32_t ctl_job_reap(struct ctl_store *s, const char *id, json_object **job, bool mark_vm,
		      struct ctl_err *e);
/* All jobs (of one VM when vm is not NULL), oldest first, vanished workers recorded. */
uint32_t ctl_job_list(struct ctl_store *s, const char *vm, json_object **jobs, struct ctl_err *e);

/* RequestStateChange: 0 done, 4096 transition started, 4097 invalid
 * transition, 5 invalid RequestedState or unknown job; 32771 for an
 * unreadable record. */
uint32_t ctl_job_request_state(struct ctl_store *s, const char *id, uint32_t requested,
			       struct ctl_err *e);
/* Removes a job that has ended; 32774 while its worker lives. */
uint32_t ctl_job_remove(struct ctl_store *s, const char *id, struct ctl_err *e);
/* Removes a job its creator gives up on (its lock held), journaling the
 * removal when it had a record: 0 or a negative errno (the folder stays
 * when the journal refuses, for the reaper to record). */
int ctl_job_discard(struct ctl_store *s, const char *id);

/* Record edits, stamping TimeOfLastStateChange. */
void ctl_job_set_state(json_object *job, uint32_t state);
void ctl_job_set_error(json_object *job, uint32_t code, const char *summary, const char *desc);

/* Marks the VM's health Critical after its job ended without success. */
void ctl_job_mark_vm_critical(struct ctl_store *s, const char *vm, const char *id);

#endif
