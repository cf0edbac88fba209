/* SPDX-License-Identifier: MIT */
/* CIM datetime intervals: see cim_time.h. */
#include <stdio.h>
#include "cim_time.h"

void ctl_cim_interval(uint64_t ns, char buf[CTL_CIM_INTERVAL_LEN])
{
	/* 2^64 ns is 213503 days: the day field never needs more than 8 digits. */
	uint64_t us = ns / 1000, s = us / 1000000;

	snprintf(buf, CTL_CIM_INTERVAL_LEN, "%08llu%02llu%02llu%02llu.%06llu:000",
		 (unsigned long long)(s / 86400), (unsigned long long)(s / 3600 % 24),
		 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60),
		 (unsigned long long)(us % 1000000));
}
