/* SPDX-License-Identifier: MIT */
/*
 * InitiateFailback(ComputerSystem, ReplicationSettingData,
 * RecoveryPointIdentifier): validates everything before touching state, then
 * moves the VM to WaitingForFailback, creates the job and starts its worker.
 */
#ifndef CTL_FAILBACK_H
#define CTL_FAILBACK_H

#include <stdint.h>
#include "errmap.h"
#include "job.h"
#include "store.h"

struct ctl_failback_req {
	const char *vm;
	const char *recovery_point; /* NULL or "": the latest */
	const char *settings;       /* JSON text; NULL or "": defaults */
};

/* 4096 with the job id in job, or a return value 32768..32779 with the
 * reason in e and nothing changed. */
uint32_t ctl_initiate_failback(struct ctl_store *s, const struct ctl_failback_req *req,
			       char job[CTL_JOB_ID_LEN], struct ctl_err *e);

/* The memory budget a plan must fit: half of MemAvailable, and RLIMIT_AS. */
uint64_t ctl_memory_budget(void);

#endif
