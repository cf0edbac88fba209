/* SPDX-License-Identifier: MIT */
/* The handle: creation, option setters with validation, results. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

resync *resync_new(void)
{
	struct resync *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->queue_depth = RS_DEFAULT_QUEUE_DEPTH;
	r->request_size = RS_DEFAULT_REQUEST_SIZE;
	r->block_size = RS_DEFAULT_BLOCK_SIZE;
	r->nbd_connections = RS_DEFAULT_NBD_CONNS;
	r->checkpoint_ms = 5000;
	r->verify = RESYNC_VERIFY_NONE;
	r->sample_per_gib = RS_DEFAULT_SAMPLE_PER_GIB;
	r->sample_min = RS_DEFAULT_SAMPLE_MIN;
	r->err_off = UINT64_MAX;
	r->digest_fd = -1;
	return r;
}

void resync_free(resync *r)
{
	if (!r)
		return;
	rs_rate_group_leave(r);
	free(r->source);
	free(r->target);
	free(r->mode_arg);
	free(r->checkpoint);
	free(r->tls_certs);
	free(r->tls_psk);
	free(r->tls_user);
	free(r);
}

/* Replaces *dst with a copy of src (NULL clears). */
static int set_str(char **dst, const char *src)
{
	char *copy = NULL;
	if (src && !(copy = strdup(src)))
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

#define CHECK_IDLE(r)                   \
	do {                            \
		if (!(r))               \
			return -EINVAL; \
		if ((r)->running)       \
			return -EBUSY;  \
	} while (0)

int resync_set_source(resync *r, const char *source)
{
	CHECK_IDLE(r);
	if (!source || !*source)
		return -EINVAL;
	return set_str(&r->source, source);
}

int resync_set_target(resync *r, const char *target)
{
	CHECK_IDLE(r);
	if (!target || !*target)
		return -EINVAL;
	return set_str(&r->target, target);
}

int resync_set_mode(resync *r, enum resync_mode mode, const char *arg)
{
	CHECK_IDLE(r);
	switch (mode) {
	case RESYNC_FULL:
	case RESYNC_COMPARE:
		if (arg)
			return -EINVAL;
		break;
	case RESYNC_EXTENTS:
	case RESYNC_BITMAP:
	case RESYNC_NBD_DIRTY:
		if (!arg || !*arg)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	int ret = set_str(&r->mode_arg, arg);
	if (!ret)
		r->mode = mode;
	return ret;
}

int resync_set_flags(resync *r, uint64_t flags)
{
	CHECK_IDLE(r);
	if (flags & ~RESYNC_F_ALL_FLAGS)
		return -EINVAL;
	r->flags = flags;
	return 0;
}

int resync_set_queue_depth(resync *r, unsigned depth)
{
	CHECK_IDLE(r);
	if (depth < 1 || depth > RS_MAX_QUEUE_DEPTH)
		return -EINVAL;
	r->queue_depth = r->user_depth = depth;
	return 0;
}

int resync_set_memory_limit(resync *r, uint64_t bytes)
{
	CHECK_IDLE(r);
	r->memory_limit = bytes;
	return 0;
}

uint64_t resync_memory_used(const resync *r)
{
	return r ? r->memory_used : 0;
}

int resync_set_request_size(resync *r, uint32_t bytes)
{
	CHECK_IDLE(r);
	if (!rs_is_pow2(bytes) || bytes < RS_MIN_REQUEST_SIZE || bytes > RS_MAX_REQUEST_SIZE)
		return -EINVAL;
	r->request_size = r->user_request = bytes;
	return 0;
}

int resync_set_write_mode(resync *r, enum resync_write_mode mode)
{
	CHECK_IDLE(r);
	if (mode != RESYNC_WRITE_AUTO && mode != RESYNC_WRITE_DIRECT &&
	    mode != RESYNC_WRITE_BUFFERED)
		return -EINVAL;
	r->write_mode = mode;
	return 0;
}

const char *resync_io_choice(const resync *r, uint32_t *request, unsigned *depth,
			     enum resync_write_mode *write)
{
	if (request)
		*request = r ? r->request_size : 0;
	if (depth)
		*depth = r ? r->queue_depth : 0;
	if (write)
		*write = r ? r->write_chosen : RESYNC_WRITE_AUTO;
	return r ? r->io_choice : "";
}

int resync_set_block_size(resync *r, uint32_t bytes)
{
	CHECK_IDLE(r);
	if (!rs_is_pow2(bytes) || bytes < RS_MIN_REQUEST_SIZE || bytes > RS_MAX_REQUEST_SIZE)
		return -EINVAL;
	r->block_size = bytes;
	return 0;
}

int resync_set_rate_limit(resync *r, uint64_t bytes_per_sec)
{
	CHECK_IDLE(r);
	r->rate = bytes_per_sec;
	return 0;
}

int resync_set_checkpoint(resync *r, const char *path, uint32_t interval_ms,
			  uint64_t interval_bytes)
{
	CHECK_IDLE(r);
	if (path && !*path)
		return -EINVAL;
	int ret = set_str(&r->checkpoint, path);
	if (!ret) {
		r->checkpoint_ms = interval_ms;
		r->checkpoint_bytes = interval_bytes;
	}
	return ret;
}

int resync_set_progress(resync *r, resync_progress_fn fn, void *arg, uint32_t interval_ms)
{
	CHECK_IDLE(r);
	r->progress = fn;
	r->progress_arg = arg;
	r->progress_ms = interval_ms;
	return 0;
}

int resync_set_nbd_connections(resync *r, unsigned n)
{
	CHECK_IDLE(r);
	if (n < 1 || n > 16)
		return -EINVAL;
	r->nbd_connections = n;
	return 0;
}

int resync_set_nbd_timeout(resync *r, uint32_t ms)
{
	CHECK_IDLE(r);
	if (ms > 24u * 3600 * 1000)
		return -EINVAL;
	r->nbd_timeout_ms = ms;
	return 0;
}

int resync_set_nbd_connect_timeout(resync *r, uint32_t ms)
{
	CHECK_IDLE(r);
	if (ms > 24u * 3600 * 1000)
		return -EINVAL;
	r->nbd_connect_timeout_ms = ms;
	return 0;
}

int resync_set_tls(resync *r, const char *certs_dir, const char *psk_file, const char *username)
{
	CHECK_IDLE(r);
	if (certs_dir && psk_file)
		return -EINVAL;
	int ret = set_str(&r->tls_certs, certs_dir);
	if (!ret)
		ret = set_str(&r->tls_psk, psk_file);
	if (!ret)
		ret = set_str(&r->tls_user, username);
	return ret;
}

int resync_set_verify(resync *r, enum resync_verify how, uint32_t sample_per_gib,
		      uint32_t sample_min)
{
	CHECK_IDLE(r);
	switch (how) {
	case RESYNC_VERIFY_NONE:
	case RESYNC_VERIFY_PLANNED:
	case RESYNC_VERIFY_SAMPLE:
	case RESYNC_VERIFY_FULL:
		break;
	default:
		return -EINVAL;
	}
	r->verify = how;
	r->sample_per_gib = sample_per_gib;
	r->sample_min = sample_min;
	return 0;
}

void resync_cancel(resync *r)
{
	atomic_store(&r->cancelled, 1);
}

void resync_pause(resync *r, int paused)
{
	atomic_store(&r->paused, paused ? 1 : 0);
}

void resync_get_stats(const resync *r, struct resync_stats *out)
{
	*out = r->st;
}

const char *resync_error(const resync *r)
{
	return r->err;
}

uint64_t resync_error_offset(const resync *r)
{
	return r->err_off;
}

const char *resync_version(void)
{
	return "resync " RESYNC_PACKAGE_VERSION;
}

int rs_fail(struct resync *r, int err, uint64_t off, const char *fmt, ...)
{
	if (r->err_code)
		return err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	r->err_code = err;
	r->err_off = off;
	return err;
}

void rs_clear_error(struct resync *r)
{
	r->err[0] = 0;
	r->err_code = 0;
	r->err_off = UINT64_MAX;
}

int rs_check_cancel(struct resync *r)
{
	if (!atomic_load(&r->cancelled))
		return 0;
	return rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled");
}

int resync_set_digest_source(resync *r, int fd, const struct resync_digest_opts *opts)
{
	CHECK_IDLE(r);
	unsigned hash = RESYNC_DIGEST_HASH_BLAKE2B;
	if (opts) {
		if (opts->struct_size < sizeof *opts || opts->flags || opts->reserved)
			return -EINVAL;
		if (opts->hash)
			hash = opts->hash;
	}
	if (fd < -1 || (hash != RESYNC_DIGEST_HASH_BLAKE2B && hash != RESYNC_DIGEST_HASH_XXH3_128))
		return -EINVAL;
	r->digest_fd = fd;
	r->digest_hash = hash;
	return 0;
}
