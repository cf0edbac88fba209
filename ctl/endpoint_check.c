/* SPDX-License-Identifier: MIT */
/* Endpoint checks before a job starts: see endpoint_check.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libnbd.h>
#include "resync/resync.h"
#include "resync/return_codes.h"
#include "clock.h"
#include "endpoint_check.h"
#include "nbd_connect.h"
#include "nbd_uri.h"

static uint32_t nbd_rv(int err)
{
	/* A server that cannot be reached is "not available" whatever errno
	 * the socket layer chose (a missing socket too); only access,
	 * timeouts and a URI that does not parse say more (doc/nbd.md's
	 * table, tests/e2e/nbd-return-table.sh). */
	switch (err) {
	case EINVAL:
		return RESYNC_RV_INVALID_PARAMETER;
	case EACCES:
	case EPERM:
	case EKEYREJECTED:
		return RESYNC_RV_ACCESS_DENIED;
	case ETIMEDOUT:
		return RESYNC_RV_TIMEOUT;
	case ENOMEM:
		return RESYNC_RV_OUT_OF_MEMORY;
	default:
		return RESYNC_RV_NOT_AVAILABLE;
	}
}

static uint32_t probe_nbd(const char *uri, const char *role, bool write, const char *meta,
			  const struct ctl_settings *set, struct ctl_endpoint_check *out,
			  struct ctl_err *e)
{
	struct nbd_handle *h = nbd_create();
	struct rc_nbd_tls tls = { 0 };
	struct rc_nbd_wait w = rc_nbd_connect_wait(set ? set->nbd_connect_timeout_ms : 0, NULL);
	char msg[512];
	uint32_t rv = 0;
	int err;

	if (!h)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "nbd_create: %s", nbd_get_error());
	if (set)
		tls = (struct rc_nbd_tls){ set->tls_certificates, set->tls_psk_file,
					   set->tls_username };
	if (meta && nbd_add_meta_context(h, meta) < 0) {
		rv = ctl_fail(e, RESYNC_RV_INVALID_PARAMETER, "%s %s: %s", role, uri,
			      nbd_get_error());
		goto out;
	}
	err = rc_nbd_connect(h, uri, &tls, &w, msg, sizeof(msg));
	if (err) {
		rc_nbd_close(h, NULL);
		return ctl_fail(e, nbd_rv(-err), "%s %s: %s", role, uri, msg);
	}
	out->is_nbd = true;
	int64_t size = nbd_get_size(h);
	if (size < 0) {
		rv = ctl_fail(e, RESYNC_RV_NOT_AVAILABLE, "%s %s: %s", role, uri, nbd_get_error());
		goto out;
	}
	out->size = (uint64_t)size;
	if (write && nbd_is_read_only(h) == 1) {
		rv = ctl_fail(e, RESYNC_RV_NOT_SUPPORTED, "%s %s: the export is read-only", role,
			      uri);
		goto out;
	}
	if (meta && nbd_can_meta_context(h, meta) != 1)
		rv = ctl_fail(e, RESYNC_RV_NOT_SUPPORTED, "%s %s: the server offers no %s", role,
			      uri, meta);
out:
	/* The probe read only what the handshake told; asking to disconnect
	 * is all the server needs, and a stopped server must not hold it. */
	rc_nbd_close(h, &w);
	return rv;
}

uint32_t ctl_endpoint_check(const char *name, const char *role, bool write, const char *meta,
			    const struct ctl_settings *set, struct ctl_endpoint_check *out,
			    struct ctl_err *e)
{
	struct stat st;
	int fd, err;

	memset(out, 0, sizeof(*out));
	if (rc_is_nbd_uri(name))
		return probe_nbd(name, role, write, meta, set, out, e);
	if (meta)
		return ctl_fail(e, RESYNC_RV_NOT_SUPPORTED, "%s %s: a file has no %s", role, name,
				meta);
	if (stat(name, &st) < 0) {
		err = errno;
		return ctl_fail(e, ctl_rv_from_errno(-err), "%s %s: %s", role, name, strerror(err));
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return ctl_fail(e, RESYNC_RV_INVALID_PARAMETER,
				"%s %s: neither a regular file nor a block device", role, name);
	out->is_block = S_ISBLK(st.st_mode);
	/* O_EXCL on a block device fails with EBUSY while it is mounted or
	 * held exclusively: copying under a user would corrupt both.  A job
	 * killed a moment ago holds it too, until the kernel has torn its
	 * io_uring down after its last write: waited for as the engine does,
	 * up to RESYNC_CLAIM_WAIT_MS, so kill then failback does not answer
	 * 32774. */
	int64_t deadline = rc_now_ms() + RESYNC_CLAIM_WAIT_MS;
	for (long pause_ms = 1;; pause_ms = pause_ms < 50 ? pause_ms * 2 : 50) {
		fd = open(name, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC |
					(out->is_block && write ? O_EXCL : 0));
		if (fd >= 0 || errno != EBUSY || rc_now_ms() >= deadline)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = pause_ms * 1000000 }, NULL);
	}
	if (fd < 0) {
		err = errno;
		return ctl_fail(e, ctl_rv_from_errno(-err), "%s %s: %s", role, name,
				err == EBUSY ? "in use (mounted or held open exclusively)" :
					       strerror(err));
	}
	if (out->is_block) {
		uint64_t size;
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			err = errno;
			close(fd);
			return ctl_fail(e, ctl_rv_from_errno(-err), "%s %s: BLKGETSIZE64: %s", role,
					name, strerror(err));
		}
		out->size = size;
		/* A read-only device (losetup -r, a write-protected disk) opens
		 * for writing and fails on the first write: refuse it here. */
		int ro = 0;
		if (write && ioctl(fd, BLKROGET, &ro) == 0 && ro) {
			close(fd);
			return ctl_fail(e, RESYNC_RV_ACCESS_DENIED,
					"%s %s: the device is read-only", role, name);
		}
	} else {
		out->size = (uint64_t)st.st_size;
	}
	close(fd);
	return 0;
}
