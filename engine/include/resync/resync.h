/* SPDX-License-Identifier: MIT */
/*
 * libresync: bring a target disk to match a source disk by copying only the
 * blocks that may differ, through one io_uring.
 *
 * Usage: resync_new(), resync_set_*(), resync_run(), resync_free().
 * Every function returning int returns 0 (or a documented count) on success
 * and a negative errno on failure; after a failure resync_error() gives a
 * message naming the failing call, the endpoint and the offset.  The library
 * never prints and never touches the global errno on purpose.
 *
 * Endpoints are named by path (regular file or block device) or by NBD URI
 * (nbd://, nbds://, nbd+unix://, nbds+unix://).
 */
#ifndef RESYNC_RESYNC_H
#define RESYNC_RESYNC_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RESYNC_VERSION_MAJOR 0
#define RESYNC_VERSION_MINOR 1

typedef struct resync resync;

/* What decides which blocks may differ. */
enum resync_mode {
	RESYNC_FULL = 0,     /* every block, allocation-aware (holes become zero writes) */
	RESYNC_EXTENTS = 1,  /* an extent list file: "offset length" lines */
	RESYNC_BITMAP = 2,   /* a change bitmap file (uapi/resync/change_bitmap.h) */
	RESYNC_COMPARE = 3,  /* read both sides, write what differs */
	RESYNC_NBD_DIRTY = 4 /* qemu:dirty-bitmap:NAME of an NBD source */
};

/* resync_set_flags() bits. Unknown bits are rejected with -EINVAL. */
#define RESYNC_F_VERIFY     (1ULL << 0) /* after copying, re-read both sides and compare */
#define RESYNC_F_DRY_RUN    (1ULL << 1) /* plan, read and compare; write nothing */
#define RESYNC_F_NO_DIRECT  (1ULL << 2) /* never use O_DIRECT */
#define RESYNC_F_ALLOW_TRIM (1ULL << 3) /* NBD targets: zero with trim where offered */
#define RESYNC_F_NO_ZERO_DETECT (1ULL << 4) /* write zero blocks as data */
#define RESYNC_F_FIRST_DIFF (1ULL << 5) /* dry run: stop at the first difference */
#define RESYNC_F_ALL_FLAGS  ((1ULL << 6) - 1)

/* Progress and result figures.  Fields are only ever appended. */
struct resync_stats {
	uint64_t size;            /* source size in bytes */
	uint64_t bytes_planned;   /* bytes the plan covers (may differ) */
	uint64_t bytes_done;      /* planned bytes retired so far */
	uint64_t bytes_read;      /* bytes read from source and target */
	uint64_t bytes_written;   /* data bytes written to the target */
	uint64_t bytes_zeroed;    /* bytes written as zeroes (punch/zero/write-zeroes) */
	uint64_t bytes_skipped_equal; /* compare: equal on both sides, not written */
	uint64_t bytes_skipped_zero;  /* zero in source, target known zero: not written */
	uint64_t bytes_differing; /* compare/verify: bytes found different */
	uint64_t elapsed_ns;      /* since resync_run() started */
	uint64_t checkpoints;     /* checkpoints persisted */
	uint32_t phase;           /* enum resync_phase */
	uint32_t source_direct;   /* 1 when the source is read with O_DIRECT */
	uint32_t target_direct;   /* 1 when the target is written with O_DIRECT */
	uint32_t resumed;         /* 1 when the run started from a checkpoint */
};

enum resync_phase {
	RESYNC_PHASE_OPEN = 0,
	RESYNC_PHASE_PLAN = 1,
	RESYNC_PHASE_COPY = 2,
	RESYNC_PHASE_FLUSH = 3,
	RESYNC_PHASE_VERIFY = 4,
	RESYNC_PHASE_DONE = 5
};

/* Called from resync_run()'s thread at the progress interval and at the end. */
typedef void (*resync_progress_fn)(const struct resync_stats *stats, void *arg);

/* A new handle with defaults; NULL on ENOMEM. */
resync *resync_new(void);
/* Frees the handle; accepts NULL. Must not be called while resync_run() runs. */
void resync_free(resync *r);

/* Endpoints: a path or NBD URI; the strings are copied. */
int resync_set_source(resync *r, const char *source);
int resync_set_target(resync *r, const char *target);
/* Mode and, for EXTENTS/BITMAP, the file; for NBD_DIRTY the bitmap name. */
int resync_set_mode(resync *r, enum resync_mode mode, const char *arg);
int resync_set_flags(resync *r, uint64_t flags);
/* In-flight requests (1..1024) and bytes per request (power of two, 4 KiB .. 64 MiB). */
int resync_set_queue_depth(resync *r, unsigned depth);
int resync_set_request_size(resync *r, uint32_t bytes);
/* Plan granularity: compare unit and checkpoint unit (power of two, 4 KiB ..
 * request size).  A change bitmap's own granularity wins when it is coarser. */
int resync_set_block_size(resync *r, uint32_t bytes);
/* Bytes per second, 0 for unlimited. */
int resync_set_rate_limit(resync *r, uint64_t bytes_per_sec);
/* Checkpoint file (NULL: none) and how often to persist it: after this many
 * milliseconds or this many retired bytes, whichever comes first (0: never by
 * that measure).  An existing valid checkpoint for the same endpoints is
 * resumed; one for other endpoints is refused with -ESTALE. */
int resync_set_checkpoint(resync *r, const char *path, uint32_t interval_ms,
			  uint64_t interval_bytes);
/* Progress callback every interval_ms (0: only at the end). */
int resync_set_progress(resync *r, resync_progress_fn fn, void *arg,
			uint32_t interval_ms);
/* NBD: connections per endpoint when the server allows multi-conn (1..16). */
int resync_set_nbd_connections(resync *r, unsigned n);
/* NBD: how long a server may send nothing while the engine waits on it (a
 * request, a flush, block status) before resync_run() fails with -ETIMEDOUT;
 * 1 ms .. 24 h, 0: the default (60 s, or RESYNC_NBD_IO_TIMEOUT_MS from the
 * environment).  Since 0.2. */
int resync_set_nbd_timeout(resync *r, uint32_t ms);
/* NBD TLS: certificates directory or PSK file (at most one), and username. */
int resync_set_tls(resync *r, const char *certs_dir, const char *psk_file,
		   const char *username);

/* Runs the whole copy: open, plan, copy, flush, verify.  Returns 0 when the
 * target matches (and is flushed), -ECANCELED after resync_cancel(), -EILSEQ
 * when verify or a dry-run compare found a difference (resync_error_offset()
 * gives the first differing byte), another negative errno on failure. */
int resync_run(resync *r);

/* Safe from another thread or a signal handler: stop submitting, drain what
 * is in flight, persist the checkpoint, and make resync_run() return -ECANCELED. */
void resync_cancel(resync *r);
/* Safe from another thread or a signal handler: pause (1) or resume (0)
 * submitting new requests; in-flight ones complete and are checkpointed. */
void resync_pause(resync *r, int paused);

/* Copies the current figures; callable from the progress callback or after run. */
void resync_get_stats(const resync *r, struct resync_stats *out);
/* The last failure's message ("" when none); valid until the next call on r. */
const char *resync_error(const resync *r);
/* The byte offset of the last failure or first difference, or UINT64_MAX. */
uint64_t resync_error_offset(const resync *r);

/*
 * Change bitmaps (format: uapi/resync/change_bitmap.h).  A bitmap is what the
 * RESYNC_BITMAP mode reads and what a checkpoint holds; integrators and tools
 * build them with these calls.
 */
typedef struct resync_bitmap resync_bitmap;

/* An empty bitmap for a disk of device_size bytes; granularity a power of two
 * in 512 .. 1 GiB. */
int resync_bitmap_new(resync_bitmap **out, uint64_t device_size, uint32_t granularity);
/* Loads and validates a file: -EBADMSG for a bad magic or checksum, -EINVAL
 * for a bad granularity, flags or reserved field, -EPROTO for an unknown
 * version, -EFBIG/-ENODATA when the length does not match the header. */
int resync_bitmap_load(resync_bitmap **out, const char *path);
/* Why the calling thread's last resync_bitmap_load() failed, in words
 * ("bad magic", "checksum mismatch", ...); "" after a success. */
const char *resync_bitmap_load_error(void);
/* Writes atomically and durably (temp file, fsync, rename, fsync directory). */
int resync_bitmap_save(const resync_bitmap *b, const char *path);
void resync_bitmap_free(resync_bitmap *b);

/* Marks (or clears) every block overlapping [offset, offset + length);
 * -ERANGE when the range passes device_size. */
int resync_bitmap_mark(resync_bitmap *b, uint64_t offset, uint64_t length);
int resync_bitmap_clear(resync_bitmap *b, uint64_t offset, uint64_t length);
/* The first run of set blocks at or after *offset, as a byte range clipped to
 * device_size: 1 with offset and length set, or 0 when none remains. */
int resync_bitmap_next(const resync_bitmap *b, uint64_t *offset, uint64_t *length);

uint64_t resync_bitmap_device_size(const resync_bitmap *b);
uint32_t resync_bitmap_granularity(const resync_bitmap *b);
/* Bytes covered by set blocks, clipped to device_size. */
uint64_t resync_bitmap_dirty_bytes(const resync_bitmap *b);
uint64_t resync_bitmap_flags(const resync_bitmap *b);
int resync_bitmap_set_flags(resync_bitmap *b, uint64_t flags);
/* 16-byte identifiers copied in or out. */
void resync_bitmap_get_generation(const resync_bitmap *b, uint8_t id[16]);
void resync_bitmap_set_generation(resync_bitmap *b, const uint8_t id[16]);
void resync_bitmap_get_disk_id(const resync_bitmap *b, uint8_t id[16]);
void resync_bitmap_set_disk_id(resync_bitmap *b, const uint8_t id[16]);

/* "resync 0.1" */
const char *resync_version(void);

#ifdef __cplusplus
}
#endif

#endif
