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
 * (nbd://, nbds://, nbd+unix://, nbds+unix://, nbd+vsock://, nbds+vsock://).
 */
#ifndef RESYNC_RESYNC_H
#define RESYNC_RESYNC_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RESYNC_VERSION_MAJOR 0
#define RESYNC_VERSION_MINOR 3

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
#define RESYNC_F_VERIFY (1ULL << 0)    /* after copying, re-read both sides and compare */
#define RESYNC_F_DRY_RUN (1ULL << 1)   /* plan, read and compare; write nothing */
#define RESYNC_F_NO_DIRECT (1ULL << 2) /* never use O_DIRECT */
/* Zeroing may deallocate: punch holes in a file, unmap a block device's
 * blocks (write-zeroes with unmap), trim an NBD export.  Without it zeroing
 * keeps the target's allocation (zero range, BLKZEROOUT, NBD write-zeroes with
 * NO_HOLE, or plain writes of zeroes), so a thick disk stays thick; ranges the
 * target already has as holes are left alone either way. */
#define RESYNC_F_ALLOW_TRIM (1ULL << 3)
#define RESYNC_F_NO_ZERO_DETECT (1ULL << 4) /* write zero blocks as data */
#define RESYNC_F_FIRST_DIFF (1ULL << 5)     /* dry run: stop at the first difference */
/* Open both endpoints (the target for writing), build the plan and check it
 * against both endpoints' limits, then return 0 without reading or writing
 * data and without writing a checkpoint: what a run would refuse up front. */
#define RESYNC_F_CHECK_ONLY (1ULL << 6)
#define RESYNC_F_ALL_FLAGS ((1ULL << 7) - 1)

/* How long opening a target waits for it to come free: a block device's
 * O_EXCL claim, a file's flock on the descriptor written through.  A run
 * killed with SIGKILL keeps both until the kernel has torn its io_uring down,
 * after its last in-flight write; so a rerun waits for them, and none of the
 * dead run's writes can land after its own.  A target still held after this
 * long (mounted, or another run copying onto it) is -EBUSY. */
#define RESYNC_CLAIM_WAIT_MS 5000u

/* Progress and result figures.  Fields are only ever appended. */
struct resync_stats {
	uint64_t size;                  /* source size in bytes */
	uint64_t bytes_planned;         /* bytes the plan covers (may differ) */
	uint64_t bytes_done;            /* planned bytes retired so far */
	uint64_t bytes_read;            /* bytes read from source and target */
	uint64_t bytes_written;         /* data bytes written to the target */
	uint64_t bytes_zeroed;          /* bytes written as zeroes (punch/zero/write-zeroes) */
	uint64_t bytes_skipped_equal;   /* compare: equal on both sides, not written */
	uint64_t bytes_skipped_zero;    /* zero in source, target known zero: not written
					 * (and, comparing, not read) */
	uint64_t bytes_differing;       /* compare/verify: bytes found different */
	uint64_t elapsed_ns;            /* since resync_run() started */
	uint64_t checkpoints;           /* checkpoints persisted */
	uint32_t phase;                 /* enum resync_phase */
	uint32_t source_direct;         /* 1 when the source is read with O_DIRECT */
	uint32_t target_direct;         /* 1 when the target is written with O_DIRECT */
	uint32_t resumed;               /* 1 when the run started from a checkpoint */
	uint64_t bytes_verified;        /* verify: bytes compared on both sides (re-read, or
					 * known to read as zeroes on both) */
	uint32_t verify_unplanned_diff; /* 1 when verify found a difference in a block
					 * outside the plan: the change record lied */
	uint32_t resume_refused;        /* 1 when a checkpoint was found but belonged to other
				   * endpoints or content: the run started over and
				   * resync_resume_refused() says why */
	uint32_t claim_wait_ms;         /* time spent waiting for the target's exclusive claim
				   * (RESYNC_CLAIM_WAIT_MS) */
	uint32_t reserved0;             /* zero */
	uint64_t digest_stream_bytes;   /* digest compare: bytes of the digest stream read;
					 * resync_digest_write(): bytes written */
	uint64_t checkpoint_flush_ns;   /* checkpoints' target flushes, summed from each
					 * one's start to its end (beside the copy or not) */
	uint64_t checkpoint_hold_ns;    /* time the copy held new requests back for a
					 * checkpoint (draining before its flush, or at
					 * the byte bound while a flush ran) */
};

enum resync_phase {
	RESYNC_PHASE_OPEN = 0,
	RESYNC_PHASE_PLAN = 1,
	RESYNC_PHASE_COPY = 2,
	RESYNC_PHASE_FLUSH = 3,
	RESYNC_PHASE_VERIFY = 4,
	RESYNC_PHASE_DONE = 5
};

/* Called from resync_run()'s thread at the progress interval, on entering
 * each phase (when the interval is not 0), and at the end. */
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
/* What verify re-reads after the copy is flushed (resync_set_verify()). */
enum resync_verify {
	RESYNC_VERIFY_NONE = 0,
	RESYNC_VERIFY_PLANNED = 1, /* re-read what the plan covered */
	RESYNC_VERIFY_SAMPLE =
		2, /* the planned blocks plus a random sample of blocks outside the plan */
	RESYNC_VERIFY_FULL = 3 /* every block (what RESYNC_F_VERIFY asks for) */
};
/* sample_per_gib blocks per GiB of disk outside the plan, at least sample_min per disk (both capped by the
 * number of unplanned blocks); -EINVAL for an unknown mode. Defaults: NONE, 16, 256.
 * A block is the plan's block (resync_set_block_size(), or a change bitmap's
 * granularity when coarser); "the plan" is every block the mode named,
 * including those a resumed checkpoint had already retired.  The sample is
 * drawn afresh each run from getrandom(); a failed getrandom fails the run
 * before anything is written.
 * RESYNC_F_VERIFY set in the flags means RESYNC_VERIFY_FULL whatever is set
 * here; a dry run verifies nothing.  Verify stops at the first difference
 * outside the plan (stats: verify_unplanned_diff = 1) and otherwise reads its
 * whole set; any difference makes resync_run() return -EILSEQ.  Since
 * RESYNC_0.2. */
int resync_set_verify(resync *r, enum resync_verify how, uint32_t sample_per_gib,
		      uint32_t sample_min);
/* In-flight requests (1..1024) and bytes per request (power of two, 4 KiB .. 64 MiB).
 * Unset, each is chosen per run from what the endpoints report
 * (resync_io_choice(), since RESYNC_0.3). */
int resync_set_queue_depth(resync *r, unsigned depth);
int resync_set_request_size(resync *r, uint32_t bytes);
/* How a file or block device target is written.  AUTO: O_DIRECT where the
 * target accepts it, else BUFFERED.  DIRECT: O_DIRECT or the run fails
 * (-EINVAL).  BUFFERED: through the page cache, each write's range handed to
 * writeback at once (sync_file_range) and waited for once more than a window
 * of bytes is under way, so dirty pages stay bounded; flushes stay fdatasync.
 * RESYNC_F_NO_DIRECT with AUTO means BUFFERED.  NBD targets ignore it.
 * Since RESYNC_0.3. */
enum resync_write_mode {
	RESYNC_WRITE_AUTO = 0,
	RESYNC_WRITE_DIRECT = 1,
	RESYNC_WRITE_BUFFERED = 2
};
int resync_set_write_mode(resync *r, enum resync_write_mode mode);
/* Plan granularity: compare unit and checkpoint unit (power of two, 4 KiB ..
 * request size).  A change bitmap's own granularity wins when it is coarser. */
int resync_set_block_size(resync *r, uint32_t bytes);
/* Bytes per second, 0 for unlimited. */
int resync_set_rate_limit(resync *r, uint64_t bytes_per_sec);
/* At most this many bytes of I/O buffers, plan bitmaps and verify digests
 * per run (0: no limit).  Requests keep their size (at least one block); a
 * run lowers its queue depth to fit, and fails with -ENOMEM before writing
 * anything when depth 1 does not.  resync_memory_used(): what the last run
 * held of these (set once its plan is made).  Since RESYNC_0.3. */
int resync_set_memory_limit(resync *r, uint64_t bytes);
uint64_t resync_memory_used(const resync *r);
/* A rate limit shared by several handles that run at once (one thread
 * each): the copies of all members together take at most bytes_per_sec (0:
 * no shared limit).  Members that want more than the group gives share it
 * evenly; one that needs less leaves the rest to the others.  While a handle
 * is a member of a group with a limit, that limit replaces the handle's own
 * (resync_set_rate_limit()) for its copy; verify is never limited.
 * resync_rate_group_new(): 0, -EINVAL (out NULL), -ENOMEM.  Free a group
 * only once no member runs; members left then go back to their own limit.
 * Since RESYNC_0.2. */
typedef struct resync_rate_group resync_rate_group;
int resync_rate_group_new(resync_rate_group **out, uint64_t bytes_per_sec);
void resync_rate_group_free(resync_rate_group *g);
/* Makes r a member of g (NULL: of none), leaving its former group; a handle
 * leaves its group when freed.  -EBUSY while r runs.  Since RESYNC_0.2. */
int resync_set_rate_group(resync *r, resync_rate_group *g);
/* Checkpoint file (NULL: none) and how often to persist it: after this many
 * milliseconds or this many retired bytes, whichever comes first (0: never by
 * that measure).  An existing checkpoint is resumed only when it was made for
 * the same endpoints as they are now (what they are, not their names: a
 * file's device, inode and birth time; a block device's number with its
 * WWN/serial, device-mapper UUID or loop-backing file; an NBD URI), the same
 * sizes, mode, block size and change record (a bitmap's checksum and
 * generation, an extent list's content), and the source still reads the same
 * at a few fixed and random places.  Otherwise the run starts over, planning
 * from the mode, and overwrites it: stats.resume_refused is 1 and
 * resync_resume_refused() says why.  A file that is not a checkpoint at all
 * is never overwritten: -EEXIST. */
int resync_set_checkpoint(resync *r, const char *path, uint32_t interval_ms,
			  uint64_t interval_bytes);
/* Progress callback every interval_ms (0: only at the end). */
int resync_set_progress(resync *r, resync_progress_fn fn, void *arg, uint32_t interval_ms);
/* NBD: connections per endpoint when the server allows multi-conn (1..16). */
int resync_set_nbd_connections(resync *r, unsigned n);
/* NBD: how long a server may send nothing while the engine waits on it (a
 * request, a flush, block status) before resync_run() fails with -ETIMEDOUT;
 * 1 ms .. 24 h, 0: the default (60 s, or RESYNC_NBD_IO_TIMEOUT_MS from the
 * environment).  Since 0.2. */
int resync_set_nbd_timeout(resync *r, uint32_t ms);
/* NBD: how long connecting may take in all (TCP or socket, TLS and the NBD
 * handshake, each connection) before resync_run() or
 * resync_nbd_dirty_extents() fails with -ETIMEDOUT; 1 ms .. 24 h, 0: the
 * default (30 s, or RESYNC_NBD_CONNECT_TIMEOUT_MS from the environment).
 * Since RESYNC_0.2. */
int resync_set_nbd_connect_timeout(resync *r, uint32_t ms);
/* NBD TLS: certificates directory or PSK file (at most one), and username. */
int resync_set_tls(resync *r, const char *certs_dir, const char *psk_file, const char *username);

/* Runs the whole copy: open, plan, copy, flush, verify.  Returns 0 when the
 * target matches (and is flushed), -ECANCELED after resync_cancel(), -EILSEQ
 * when verify or a dry-run compare found a difference (resync_error_offset()
 * gives the first differing byte), another negative errno on failure. */
int resync_run(resync *r);

/* Safe from another thread or a signal handler: stop submitting, drain what
 * is in flight, persist the checkpoint, and make resync_run() return -ECANCELED.
 * A cancel applies to the run in progress or, when none is, to the next one to
 * start (so a signal that arrives just before resync_run() still stops it);
 * resync_run() consumes it when it returns, and the handle can run again.  It
 * is seen between the steps of open, between extents while planning, before
 * the final flush (which is then skipped: the last checkpoint stays valid),
 * and by the copy and verify loops.  A cancel that arrives once the final
 * flush has started lets a run without verify complete (0). */
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
/* Why the last run did not resume its checkpoint ("" when it did, or there
 * was none); valid until the next call on r. */
const char *resync_resume_refused(const resync *r);
/* What the last run chose (after it opened its endpoints): request size,
 * queue depth and the target's write mode (never AUTO; DIRECT for an NBD
 * target); any pointer may be NULL.  Returns why, in words ("" before a run),
 * valid until the next call on r.  Since RESYNC_0.3. */
const char *resync_io_choice(const resync *r, uint32_t *request, unsigned *depth,
			     enum resync_write_mode *write);

/* What resync_nbd_dirty_extents() reports to.  Fields are only ever
 * appended: set struct_size to sizeof(struct resync_extent_cb) (a smaller
 * one is -EINVAL) and reserved to 0. */
struct resync_extent_cb {
	uint32_t struct_size;
	uint32_t reserved;
	/* Once, before any extent, with the export's size; may be NULL. */
	int (*size)(void *arg, uint64_t export_size);
	/* Each dirty range, in ascending order, adjacent ranges merged. */
	int (*extent)(void *arg, uint64_t offset, uint64_t length);
	void *arg;
};
/* Reads the qemu dirty bitmap NAME (the context qemu:dirty-bitmap:NAME; a
 * name holding a ':' is taken as the full context name) of the NBD export at
 * uri, outside a run, over one connection made with r's TLS settings and NBD
 * timeouts.  A callback returning non-zero stops the walk and its value is
 * returned.  Returns 0, or a negative errno with resync_error() set:
 * -EINVAL a bad argument or a uri that is not NBD, -ENOTSUP the server does
 * not offer the bitmap (the message lists what it offers), -EPROTO a reply
 * without progress, -ETIMEDOUT, -ECANCELED after resync_cancel() (consumed
 * as by resync_run()), or the errors of connecting (-EACCES TLS, -ENOENT,
 * -ECONNREFUSED).  Not while resync_run() runs on r (-EBUSY).  Since
 * RESYNC_0.2. */
int resync_nbd_dirty_extents(resync *r, const char *uri, const char *name,
			     const struct resync_extent_cb *cb);

/*
 * Change bitmaps (format: uapi/resync/change_bitmap.h).  A bitmap is what the
 * RESYNC_BITMAP mode reads and what a checkpoint holds; integrators and tools
 * build them with these calls.
 */
typedef struct resync_bitmap resync_bitmap;

/* An empty bitmap for a disk of device_size bytes; granularity a power of two
 * in 512 .. 1 GiB (else -EINVAL).  A bitmap holds at most 2^35 blocks
 * (ceil(device_size / granularity)): more is -EOVERFLOW.  -ENOMEM when
 * memory runs out. */
int resync_bitmap_new(resync_bitmap **out, uint64_t device_size, uint32_t granularity);
/* Loads and validates a file: -EBADMSG for a bad magic or checksum, -EINVAL
 * for a bad granularity, flags or reserved field, -EPROTO for an unknown
 * version, -EFBIG/-ENODATA when the length does not match the header,
 * -EOVERFLOW for more than 2^35 blocks (see resync_bitmap_new()). */
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

/*
 * Digest compare (the stream: uapi/resync/digest.h, doc/digest-stream.md).
 * When the source is far away, its side runs resync_digest_write() next to
 * its disk and the near side reads that stream with
 * resync_set_digest_source(): the target's blocks are hashed locally and
 * only blocks whose digests differ are read from the source.
 */
enum resync_digest_hash {
	RESYNC_DIGEST_HASH_BLAKE2B = 1, /* cryptographic: the default */
	RESYNC_DIGEST_HASH_XXH3_128 = 2 /* fast, not collision-proof: trusted links only */
};
/* Fields are only ever appended: set struct_size to sizeof(struct
 * resync_digest_opts) (a smaller one is -EINVAL); flags and reserved 0. */
struct resync_digest_opts {
	uint32_t struct_size;
	uint32_t hash; /* enum resync_digest_hash; 0: BLAKE2b */
	uint64_t flags;
	uint64_t reserved;
};
/* The next runs of r compare by digests read from fd (a pipe or socket from
 * the far side's resync_digest_write()); fd -1 turns it off.  The mode must
 * be RESYNC_COMPARE (resync_run() fails with -EINVAL otherwise); the
 * stream's block size must be the plan's and its device size the source's.
 * A digest match counts as equal, so a stream must use the hash asked for
 * here: XXH3-128 only when asked for.  r does not own or close fd.  Unless
 * it is a dry run, each block whose digest differs is copied as soon as it
 * is found (within the rate limit).  A stream that is not
 * complete and valid fails resync_run() (blocks already copied hold the
 * source's data; nothing is taken as equal) with -EBADMSG (bad
 * magic or a checksum mismatch), -EPROTO (unknown version, frames out of
 * order or of an unknown type), -EINVAL (a bad header field, another block
 * or device size), -EPERM (another hash), -ENODATA (the stream ended early),
 * -ETIMEDOUT (nothing for the NBD timeout, resync_set_nbd_timeout()).
 * Since RESYNC_0.2. */
int resync_set_digest_source(resync *r, int fd, const struct resync_digest_opts *opts);
/* Writes the digest stream of r's source (resync_set_source(); its block
 * size, request size, queue depth, NBD and TLS settings) to fd, and returns
 * 0 once the end frame is written.  -EPIPE when the reader went away (ignore
 * SIGPIPE to get it), -ECANCELED after resync_cancel(), -EINVAL for bad
 * options, or the errors of opening and reading the source.  Stats:
 * size, bytes_read, digest_stream_bytes.  Since RESYNC_0.2. */
int resync_digest_write(resync *r, int fd, const struct resync_digest_opts *opts);

/* "resync X.Y.Z", the version of the library running (the VERSION file of
 * its source); RESYNC_VERSION_MAJOR/MINOR are those it was compiled against. */
const char *resync_version(void);

#ifdef __cplusplus
}
#endif

#endif
