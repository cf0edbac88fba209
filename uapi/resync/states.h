/* SPDX-License-Identifier: MIT */
/*
 * resync uapi: replication states, modes, health and job states, numbered as
 * Msvm_ReplicationRelationship and CIM_ConcreteJob number them, so records and
 * JSON output mean the same thing to a Hyper-V-minded integrator.
 */
#ifndef RESYNC_UAPI_STATES_H
#define RESYNC_UAPI_STATES_H

/* Msvm_ReplicationRelationship.ReplicationState */
#define RESYNC_STATE_DISABLED                0u
#define RESYNC_STATE_READY                   1u
#define RESYNC_STATE_WAITING_INITIAL         2u
#define RESYNC_STATE_REPLICATING             3u
#define RESYNC_STATE_SYNCED                  4u
#define RESYNC_STATE_RECOVERED               5u
#define RESYNC_STATE_COMMITTED               6u
#define RESYNC_STATE_SUSPENDED               7u
#define RESYNC_STATE_CRITICAL                8u
#define RESYNC_STATE_WAITING_RESYNC          9u
#define RESYNC_STATE_RESYNCHRONIZING         10u
#define RESYNC_STATE_RESYNC_SUSPENDED        11u
#define RESYNC_STATE_FAILOVER_IN_PROGRESS    12u
#define RESYNC_STATE_FAILBACK_IN_PROGRESS    13u
#define RESYNC_STATE_FAILBACK_COMPLETE       14u
/* Microsoft gives WaitingForFailback no number: a vendor value. */
#define RESYNC_STATE_WAITING_FOR_FAILBACK    32768u

/* ReplicationMode */
#define RESYNC_MODE_NONE             0u
#define RESYNC_MODE_PRIMARY          1u
#define RESYNC_MODE_REPLICA          2u
#define RESYNC_MODE_TEST_REPLICA     3u
#define RESYNC_MODE_EXTENDED_REPLICA 4u

/* ReplicationHealth */
#define RESYNC_HEALTH_NOT_APPLICABLE 0u
#define RESYNC_HEALTH_OK             1u
#define RESYNC_HEALTH_WARNING        2u
#define RESYNC_HEALTH_CRITICAL       3u

/* CIM_ConcreteJob.JobState */
#define RESYNC_JOB_NEW           2u
#define RESYNC_JOB_STARTING      3u
#define RESYNC_JOB_RUNNING       4u
#define RESYNC_JOB_SUSPENDED     5u
#define RESYNC_JOB_SHUTTING_DOWN 6u
#define RESYNC_JOB_COMPLETED     7u
#define RESYNC_JOB_TERMINATED    8u
#define RESYNC_JOB_KILLED        9u
#define RESYNC_JOB_EXCEPTION     10u

/* Msvm_ConcreteJob.JobType for InitiateFailback */
#define RESYNC_JOB_TYPE_INITIATE_FAILBACK 124u

/* CIM_ConcreteJob.RequestStateChange(RequestedState) */
#define RESYNC_REQUEST_START     2u
#define RESYNC_REQUEST_SUSPEND   3u
#define RESYNC_REQUEST_TERMINATE 4u
#define RESYNC_REQUEST_KILL      5u

#endif
