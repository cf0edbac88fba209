/* SPDX-License-Identifier: MIT */
/*
 * The API's resource handlers, one file per group: res_vm.c (VMs, failover,
 * failback), res_rp.c (recovery points), res_job.c (jobs), metrics.c.
 * Each fills the reply; route.c has checked the method, the caller's role
 * and that a named VM or job exists (else 404).
 */
#ifndef RESYNCD_RESOURCES_H
#define RESYNCD_RESOURCES_H

#include "daemon.h"

void rd_vm_list(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r);
void rd_vm_add(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r);
void rd_vm_show(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		struct rd_reply *r);
void rd_vm_remove(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		  struct rd_reply *r);
void rd_vm_failover(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		    struct rd_reply *r);
void rd_vm_failback(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		    struct rd_reply *r);

void rd_rp_list(struct rd_daemon *d, const struct rd_request *q, const char *vm,
		struct rd_reply *r);
void rd_rp_add(struct rd_daemon *d, const struct rd_request *q, const char *vm, struct rd_reply *r);
void rd_rp_show(struct rd_daemon *d, const struct rd_request *q, const char *vm, const char *id,
		struct rd_reply *r);
void rd_rp_remove(struct rd_daemon *d, const struct rd_request *q, const char *vm, const char *id,
		  struct rd_reply *r);

void rd_job_list(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r);
void rd_job_show(struct rd_daemon *d, const struct rd_request *q, const char *id,
		 struct rd_reply *r);
void rd_job_request_state(struct rd_daemon *d, const struct rd_request *q, const char *id,
			  struct rd_reply *r);
void rd_job_remove(struct rd_daemon *d, const struct rd_request *q, const char *id,
		   struct rd_reply *r);

/* GET /metrics: Prometheus text exposition format 0.0.4. */
void rd_metrics(struct rd_daemon *d, const struct rd_request *q, struct rd_reply *r);
/* Counts a method call's ReturnValue for resync_api_calls_total. */
void rd_metrics_count(uint32_t rv);

#endif
