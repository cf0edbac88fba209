/* SPDX-License-Identifier: MIT */
/*
 * resync uapi: the uint32 return values of InitiateFailback and of a job's
 * RequestStateChange, as Hyper-V Replica's WMI interface numbers them.
 * Shared by resyncctl, the JSON output and integrators; values never change.
 */
#ifndef RESYNC_UAPI_RETURN_CODES_H
#define RESYNC_UAPI_RETURN_CODES_H

/* InitiateFailback (Msvm_ReplicationService) return values. */
#define RESYNC_RV_COMPLETED           0u     /* completed with no error */
#define RESYNC_RV_JOB_STARTED         4096u  /* parameters checked, job started */
#define RESYNC_RV_FAILED              32768u
#define RESYNC_RV_ACCESS_DENIED       32769u
#define RESYNC_RV_NOT_SUPPORTED       32770u
#define RESYNC_RV_STATUS_UNKNOWN      32771u
#define RESYNC_RV_TIMEOUT             32772u
#define RESYNC_RV_INVALID_PARAMETER   32773u
#define RESYNC_RV_IN_USE              32774u
#define RESYNC_RV_INVALID_STATE       32775u
#define RESYNC_RV_INCORRECT_DATA_TYPE 32776u
#define RESYNC_RV_NOT_AVAILABLE       32777u
#define RESYNC_RV_OUT_OF_MEMORY       32778u
#define RESYNC_RV_FILE_NOT_FOUND      32779u

/* CIM_ConcreteJob.RequestStateChange return values. */
#define RESYNC_RSC_COMPLETED          0u
#define RESYNC_RSC_INVALID_PARAMETER  5u
#define RESYNC_RSC_STARTED            4096u
#define RESYNC_RSC_INVALID_TRANSITION 4097u

#endif
