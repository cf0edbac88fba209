/* SPDX-License-Identifier: MIT */
/* errno to InitiateFailback return values, and their text: see errmap.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include "resync/return_codes.h"
#include "errmap.h"

uint32_t ctl_rv_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return RESYNC_RV_COMPLETED;
	case EACCES:
	case EPERM:
	case EROFS:
	case EKEYREJECTED:
		return RESYNC_RV_ACCESS_DENIED;
	case EOPNOTSUPP:
	case EPROTONOSUPPORT:
	case ENOTTY:
		return RESYNC_RV_NOT_SUPPORTED;
	case ETIMEDOUT:
		return RESYNC_RV_TIMEOUT;
	case EINVAL:
	case ERANGE:
	case EDOM:
	case E2BIG:
	case ENAMETOOLONG:
		return RESYNC_RV_INVALID_PARAMETER;
	case EBUSY:
	case ETXTBSY:
	case EALREADY:
	case EWOULDBLOCK:
		return RESYNC_RV_IN_USE;
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ENOTCONN:
	case ENXIO:
	case ENODEV:
	case ESHUTDOWN:
		return RESYNC_RV_NOT_AVAILABLE;
	case ENOMEM:
		return RESYNC_RV_OUT_OF_MEMORY;
	case ENOENT:
		return RESYNC_RV_FILE_NOT_FOUND;
	default:
		return RESYNC_RV_FAILED;
	}
}

int ctl_exit_status(uint32_t rv)
{
	if (rv == RESYNC_RV_COMPLETED || rv == RESYNC_RV_JOB_STARTED)
		return 0;
	if (rv >= RESYNC_RV_FAILED && rv <= RESYNC_RV_FILE_NOT_FOUND)
		return (int)(rv - 32767u);
	if (rv == RESYNC_RSC_INVALID_TRANSITION)
		return 13;
	if (rv == RESYNC_RSC_INVALID_PARAMETER)
		return 14;
	return 1;
}

const char *ctl_rv_text(uint32_t rv)
{
	switch (rv) {
	case RESYNC_RV_COMPLETED:
		return "Completed with no error";
	case RESYNC_RV_JOB_STARTED:
		return "Method parameters checked, job started";
	case RESYNC_RSC_INVALID_PARAMETER:
		return "Invalid parameter";
	case RESYNC_RSC_INVALID_TRANSITION:
		return "Invalid state transition";
	case RESYNC_RV_FAILED:
		return "Failed";
	case RESYNC_RV_ACCESS_DENIED:
		return "Access denied";
	case RESYNC_RV_NOT_SUPPORTED:
		return "Not supported";
	case RESYNC_RV_STATUS_UNKNOWN:
		return "Status is unknown";
	case RESYNC_RV_TIMEOUT:
		return "Timeout";
	case RESYNC_RV_INVALID_PARAMETER:
		return "Invalid parameter";
	case RESYNC_RV_IN_USE:
		return "System is in use";
	case RESYNC_RV_INVALID_STATE:
		return "Invalid state for this operation";
	case RESYNC_RV_INCORRECT_DATA_TYPE:
		return "Incorrect data type";
	case RESYNC_RV_NOT_AVAILABLE:
		return "System is not available";
	case RESYNC_RV_OUT_OF_MEMORY:
		return "Out of memory";
	case RESYNC_RV_FILE_NOT_FOUND:
		return "File not found";
	default:
		return "Unknown";
	}
}

uint32_t ctl_fail(struct ctl_err *e, uint32_t rv, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return rv;
}
