/* SPDX-License-Identifier: MIT */
/*
 * Regular files and block devices through io_uring: O_DIRECT where the file
 * system allows it, a second buffered descriptor for the unaligned tail of a
 * file, registered files and buffers, and zeroing by the cheapest method the
 * target accepts, turning a method off the first time the kernel refuses it.
 * Zeroing keeps the target's allocation (zero range, which on a block device
 * is write-zeroes without unmap; BLKZEROOUT, also without unmap; then plain
 * writes) unless RESYNC_F_ALLOW_TRIM allows deallocating, which tries punch
 * hole first (on a block device: write-zeroes that may unmap).
 * A target written buffered (O_DIRECT refused, disabled, or
 * RESYNC_WRITE_BUFFERED) keeps its dirty pages bounded by a writeback window
 * (writeback.h): a write is called back once its range is handed to
 * writeback and, over the window, once the oldest range has been written.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "blkdev.h"
#include "clock.h"
#include "endpoint.h"
#include "internal.h"
#include "writeback.h"

enum zero_method { ZERO_PUNCH, ZERO_RANGE, ZERO_BLKZEROOUT, ZERO_WRITE };

struct file_ep {
	int fd;          /* O_DIRECT when ep->direct */
	int fd_buffered; /* for ranges O_DIRECT cannot take */
	int fixed;       /* registered index of fd; fixed + 1 is fd_buffered */
	struct rs_ring *rg;
	enum zero_method zero;
	bool may_have_holes;    /* fewer blocks allocated than the size needs */
	struct rs_writeback wb; /* when ep->writeback */
	char *zero_buf;         /* for ZERO_WRITE */
	size_t zero_len;
	unsigned inflight;
};

static const char *op_name(enum rs_op op)
{
	return op == RS_OP_READ ? "read" : op == RS_OP_WRITE ? "write" : "write zeroes";
}

/* Runs try_once until it stops answering -EBUSY, for at most
 * RESYNC_CLAIM_WAIT_MS.  A killed run's io_uring keeps its files, and with
 * them its O_EXCL claim or flock, until the kernel has torn the ring down
 * after its last in-flight write: the claim coming free is the proof that no
 * late write of the dead run can land over ours.  The time waited is counted
 * in the stats (claim_wait_ms), since the library says nothing itself. */
static int wait_claim(struct rs_endpoint *ep, int (*try_once)(struct rs_endpoint *ep, void *arg),
		      void *arg)
{
	struct resync *r = ep->r;
	uint64_t start = rc_now_ns(), limit = RESYNC_CLAIM_WAIT_MS * 1000000ull;
	uint64_t pause = 1000000;
	int ret;
	while ((ret = try_once(ep, arg)) == -EBUSY) {
		uint64_t waited = rc_now_ns() - start;
		if (waited >= limit || atomic_load(&r->cancelled))
			break;
		pause = rs_min(rs_min(pause * 2, 50000000), limit - waited);
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)pause };
		nanosleep(&ts, NULL);
	}
	uint64_t waited_ms = (rc_now_ns() - start) / 1000000;
	if (waited_ms)
		r->st.claim_wait_ms += (uint32_t)waited_ms;
	if (ret == -EBUSY && atomic_load(&r->cancelled))
		return rs_fail(r, -ECANCELED, UINT64_MAX, "cancelled");
	return ret;
}

struct open_args {
	int flags;
	int *fd;
};

static int try_open(struct rs_endpoint *ep, void *arg)
{
	struct open_args *a = arg;
	*a->fd = open(ep->name, a->flags);
	return *a->fd < 0 ? -errno : 0;
}

static int try_lock(struct rs_endpoint *ep, void *arg)
{
	struct file_ep *f = ep->priv;
	if (!flock(f->fd, LOCK_EX | LOCK_NB))
		return 0;
	/* A file system without flock gives no barrier, but refusing it would
	 * refuse the target for good. */
	if (errno == ENOLCK || errno == EOPNOTSUPP || errno == EINVAL)
		return 0;
	return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

/* Opens ep->name again with flags and checks it is still the object first
 * looked at (st): a path swapped in between must not be written. */
static int open_same(struct rs_endpoint *ep, const struct stat *st, int flags, int *fd, bool wait)
{
	struct open_args a = { flags, fd };
	int ret = wait ? wait_claim(ep, try_open, &a) : try_open(ep, &a);
	if (ret)
		return ret;
	struct stat now;
	if (fstat(*fd, &now))
		return -errno;
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino || now.st_rdev != st->st_rdev)
		return rs_fail(ep->r, -ESTALE, UINT64_MAX,
			       "%s %s was replaced while it was being opened", ep->role, ep->name);
	return 0;
}

static int open_fail(struct rs_endpoint *ep, int err)
{
	struct resync *r = ep->r;
	if (r->err_code)
		return r->err_code;
	if (err == -EBUSY)
		return rs_fail(r, -EBUSY, UINT64_MAX,
			       "%s %s is in use (%s); still so after waiting %u ms", ep->role,
			       ep->name,
			       ep->is_block ?
				       "mounted, or held open exclusively by another program" :
				       "locked by another resync run",
			       RESYNC_CLAIM_WAIT_MS);
	return rs_fail(r, err, UINT64_MAX, "%s %s: open: %s", ep->role, ep->name, strerror(-err));
}

static int file_open(struct rs_endpoint *ep, bool write)
{
	struct resync *r = ep->r;
	struct stat st;
	/* Looked at through O_PATH, which opens nothing (a FIFO would block);
	 * every decision below is made on this object, and the descriptors
	 * opened for I/O are checked to be the same one. */
	int pfd = open(ep->name, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return rs_fail(r, -errno, UINT64_MAX, "%s %s: %s", ep->role, ep->name,
			       strerror(errno));
	int ret = fstat(pfd, &st) ? -errno : 0;
	close(pfd);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "%s %s: %s", ep->role, ep->name, strerror(-ret));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return rs_fail(r, -EINVAL, UINT64_MAX, "%s %s: not a regular file or block device",
			       ep->role, ep->name);
	struct file_ep *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->fd = f->fd_buffered = -1;
	ep->priv = f;
	ep->is_block = S_ISBLK(st.st_mode);

	int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	/* O_EXCL on a block device fails with EBUSY when it is mounted or held
	 * by another exclusive opener: exactly the targets we must not touch,
	 * and a killed run's ring until its writes have drained. */
	bool claim = write && ep->is_block;
	int excl = claim ? O_EXCL : 0;
	const char *why = "O_DIRECT disabled";
	ep->direct = !(r->flags & RESYNC_F_NO_DIRECT);
	if (write && r->write_mode == RESYNC_WRITE_BUFFERED) {
		ep->direct = false;
		why = "as set";
	}
	if (ep->direct) {
		ret = open_same(ep, &st, flags | excl | O_DIRECT, &f->fd, claim);
		if (ret == -EINVAL && !r->err_code)
			ep->direct = false;
		else if (ret)
			return open_fail(ep, ret);
		why = "O_DIRECT refused";
	}
	if (write && !ep->direct && r->write_mode == RESYNC_WRITE_DIRECT)
		return rs_fail(r, -EINVAL, UINT64_MAX,
			       "target %s: O_DIRECT %s, but direct writes "
			       "were asked for",
			       ep->name, r->flags & RESYNC_F_NO_DIRECT ? "disabled" : "refused");
	/* Buffered writes without a window leave the whole copy dirty until
	 * the flush: 1 GiB took 7-12 s here against 1.4-2.7 s with O_DIRECT
	 * (bench/README.md), since writeback starts late and the flush
	 * then waits for all of it. */
	ep->writeback = write && !ep->direct;
	if (ep->writeback)
		snprintf(r->write_why, sizeof r->write_why, "buffered (%s)", why);
	if (!ep->direct && (ret = open_same(ep, &st, flags | excl, &f->fd, claim)))
		return open_fail(ep, ret);
	/* A file has no O_EXCL claim: a lock on the descriptor the writes go
	 * through gives the same barrier against a killed run's late writes
	 * and against a second run onto the same file. */
	if (write && !ep->is_block && (ret = wait_claim(ep, try_lock, NULL)))
		return open_fail(ep, ret);
	if ((ret = open_same(ep, &st, flags, &f->fd_buffered, false)))
		return open_fail(ep, ret);
	if (fstat(f->fd, &st))
		return rs_fail(r, -errno, UINT64_MAX, "%s %s: %s", ep->role, ep->name,
			       strerror(errno));

	struct rs_queue q;
	if (ep->is_block) {
		struct rs_topology t;
		ret = rs_probe_block(f->fd, &t);
		if (ret)
			return rs_fail(r, ret, UINT64_MAX, "%s %s: probing the device: %s",
				       ep->role, ep->name, strerror(-ret));
		ep->size = t.size;
		ep->align = t.logical_sector;
		ep->pref_request = t.optimal_io;
		rs_probe_queue(st.st_rdev, &q);
		ep->facts = "device";
	} else {
		ep->size = (uint64_t)st.st_size;
		ep->align = 4096;
		f->may_have_holes = (uint64_t)st.st_blocks * 512 < ep->size;
		/* The file system's device bounds what its requests become;
		 * st_blksize is its own preference (a page, mostly). */
		rs_probe_queue(st.st_dev, &q);
		ep->pref_request = (uint32_t)rs_max(q.optimal_io, (uint64_t)st.st_blksize);
		ep->facts = q.nr_requests ? "file system's device" : "file system";
	}
	ep->dev_max_request = q.max_request;
	ep->dev_queue = q.nr_requests;
	ret = rs_probe_identity(f->fd, ep->size, &ep->id_dev, &ep->id_ino, ep->identity);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "%s %s: reading its identity: %s", ep->role,
			       ep->name, strerror(-ret));
	f->zero = ZERO_PUNCH;
	return 0;
}

static int file_attach(struct rs_endpoint *ep, struct rs_ring *rg)
{
	struct file_ep *f = ep->priv;
	int fds[2] = { f->fd, f->fd_buffered };
	int ret = rs_ring_register_files(rg, fds, 2);
	if (ret < 0)
		return rs_fail(ep->r, ret, UINT64_MAX, "%s %s: registering files: %s", ep->role,
			       ep->name, strerror(-ret));
	f->fixed = ret;
	f->rg = rg;
	/* One pipeline's worth under way keeps the device as busy as direct
	 * writes would; the request size and depth are chosen by now. */
	if (ep->writeback) {
		uint64_t window = (uint64_t)ep->r->queue_depth * ep->r->request_size;
		rs_wb_init(&f->wb, window);
		size_t n = strlen(ep->r->write_why);
		snprintf(ep->r->write_why + n, sizeof ep->r->write_why - n,
			 " with a writeback window of %llu KiB",
			 (unsigned long long)(window >> 10));
	}
	return 0;
}

static void file_queue(struct rs_endpoint *ep, struct rs_io *io);

static void finish(struct rs_io *io, int err)
{
	struct file_ep *f = io->ep->priv;
	f->inflight--;
	io->cb(io, err);
}

enum { WB_NONE, WB_START, WB_WAIT, WB_DROP };

static void wb_complete(struct rs_completion *c, int res);

static void wb_prep(struct rs_endpoint *ep, struct rs_io *io, uint64_t off, uint64_t len,
		    unsigned flags)
{
	struct file_ep *f = ep->priv;
	io->comp.fn = wb_complete;
	struct io_uring_sqe *sqe = rs_ring_sqe(f->rg, &io->comp);
	io_uring_prep_sync_file_range(sqe, f->fixed, (unsigned)len, off, (int)flags);
	sqe->flags |= IOSQE_FIXED_FILE;
}

/* Waits for the oldest range while the window is over, else calls back. */
static void wb_next(struct rs_endpoint *ep, struct rs_io *io)
{
	struct file_ep *f = ep->priv;
	struct rs_wb_range rg;
	if (!rs_wb_pop_over(&f->wb, &rg)) {
		finish(io, 0);
		return;
	}
	io->wb_stage = WB_WAIT;
	io->wb_off = rg.off;
	io->wb_len = rg.len;
	wb_prep(ep, io, rg.off, rg.len,
		SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}

/* A range on disk leaves the page cache too, as nbdcopy's does: a copy of
 * a whole disk would otherwise push out the host's working set for pages
 * nobody reads again (the VM reads its disk through its own cache). */
static void wb_drop(struct rs_endpoint *ep, struct rs_io *io)
{
	struct file_ep *f = ep->priv;
	io->wb_stage = WB_DROP;
	io->comp.fn = wb_complete;
	struct io_uring_sqe *sqe = rs_ring_sqe(f->rg, &io->comp);
	io_uring_prep_fadvise(sqe, f->fixed, io->wb_off, (off_t)io->wb_len, POSIX_FADV_DONTNEED);
	sqe->flags |= IOSQE_FIXED_FILE;
}

static void wb_complete(struct rs_completion *c, int res)
{
	struct rs_io *io = (struct rs_io *)c;
	struct rs_endpoint *ep = io->ep;
	struct file_ep *f = ep->priv;
	/* Dropping is advice: pages it leaves cached are only memory. */
	if (io->wb_stage == WB_DROP) {
		wb_next(ep, io);
		return;
	}
	if (res < 0) {
		/* A wait is for an older write's range: that is where it failed. */
		uint64_t at = io->wb_stage == WB_WAIT ? io->wb_off : io->off;
		finish(io, rs_fail(ep->r, res, at, "%s %s: sync_file_range near offset %llu: %s",
				   ep->role, ep->name, (unsigned long long)at, strerror(-res)));
		return;
	}
	if (io->wb_stage == WB_START && rs_wb_push(&f->wb, io->off, io->len)) {
		finish(io, rs_fail(ep->r, -ENOMEM, io->off, "%s %s: out of memory", ep->role,
				   ep->name));
		return;
	}
	if (io->wb_stage == WB_WAIT)
		wb_drop(ep, io);
	else
		wb_next(ep, io);
}

/* A write through the page cache is handed to writeback before it counts
 * as done, so dirty pages never pile up until the flush. */
static void written(struct rs_endpoint *ep, struct rs_io *io)
{
	if (!ep->writeback || io->op == RS_OP_READ) {
		finish(io, 0);
		return;
	}
	io->wb_stage = WB_START;
	wb_prep(ep, io, io->off, io->len, SYNC_FILE_RANGE_WRITE);
}

static bool zero_refused(int res)
{
	return res == -EOPNOTSUPP || res == -EINVAL || res == -ENOTTY || res == -ENODEV;
}

static void file_complete(struct rs_completion *c, int res)
{
	struct rs_io *io = (struct rs_io *)c;
	struct rs_endpoint *ep = io->ep;
	struct file_ep *f = ep->priv;

	if (res == -EAGAIN || res == -EINTR) {
		file_queue(ep, io);
		return;
	}
	if (io->op == RS_OP_ZERO && io->method != ZERO_WRITE && zero_refused(res)) {
		/* Requests in flight together all see the refusal: the method
		 * is dropped once, by whichever reports it first. */
		if (f->zero == io->method)
			f->zero++;
		file_queue(ep, io);
		return;
	}
	if (res < 0) {
		finish(io, rs_fail(ep->r, res, io->off + io->done, "%s %s: %s at offset %llu: %s",
				   ep->role, ep->name, op_name(io->op),
				   (unsigned long long)(io->off + io->done), strerror(-res)));
		return;
	}
	if (io->op == RS_OP_ZERO && io->method != ZERO_WRITE) {
		finish(io, 0);
		return;
	}
	if (res == 0) {
		finish(io, rs_fail(ep->r, -EIO, io->off + io->done,
				   "%s %s: %s at offset %llu: unexpected end of file", ep->role,
				   ep->name, op_name(io->op),
				   (unsigned long long)(io->off + io->done)));
		return;
	}
	io->done += (uint64_t)res;
	if (io->done < io->len)
		file_queue(ep, io);
	else
		written(ep, io);
}

/* The BLKZEROOUT ioctl has no io_uring form: run it, then deliver its result
 * through a NOP so callbacks never nest inside submit(). */
static void deferred_complete(struct rs_completion *c, int res)
{
	struct rs_io *io = (struct rs_io *)c;
	file_complete(c, io->res);
}

static void queue_blkzeroout(struct rs_endpoint *ep, struct rs_io *io)
{
	struct file_ep *f = ep->priv;
	uint64_t range[2] = { io->off, io->len };
	io->res = ioctl(f->fd, BLKZEROOUT, range) ? -errno : 0;
	io->comp.fn = deferred_complete;
	io_uring_prep_nop(rs_ring_sqe(f->rg, &io->comp));
}

static int zero_buffer(struct rs_endpoint *ep)
{
	struct file_ep *f = ep->priv;
	if (f->zero_buf)
		return 0;
	f->zero_len = ep->r->request_size;
	if (posix_memalign((void **)&f->zero_buf, 4096, f->zero_len))
		return -ENOMEM;
	memset(f->zero_buf, 0, f->zero_len);
	return 0;
}

static void file_queue(struct rs_endpoint *ep, struct rs_io *io)
{
	struct file_ep *f = ep->priv;
	uint64_t off = io->off + io->done, len = io->len - io->done;
	bool aligned = ep->direct && !(off % ep->align) && !(len % ep->align);
	int fixed = aligned || !ep->direct ? f->fixed : f->fixed + 1;
	struct io_uring_sqe *sqe;

	io->comp.fn = file_complete;
	if (io->op == RS_OP_ZERO) {
		/* Punching deallocates: a thick disk would become thin. */
		if (f->zero == ZERO_PUNCH && !(ep->r->flags & RESYNC_F_ALLOW_TRIM))
			f->zero = ZERO_RANGE;
		if (f->zero == ZERO_BLKZEROOUT && !ep->is_block)
			f->zero = ZERO_WRITE;
		io->method = f->zero;
		switch (f->zero) {
		case ZERO_PUNCH:
		case ZERO_RANGE:
			sqe = rs_ring_sqe(f->rg, &io->comp);
			io_uring_prep_fallocate(sqe, fixed,
						f->zero == ZERO_PUNCH ?
							FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE :
							FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
						(off_t)off, (off_t)len);
			sqe->flags |= IOSQE_FIXED_FILE;
			return;
		case ZERO_BLKZEROOUT:
			queue_blkzeroout(ep, io);
			return;
		case ZERO_WRITE:
			if (zero_buffer(ep)) {
				io->res = -ENOMEM;
				io->comp.fn = deferred_complete;
				io_uring_prep_nop(rs_ring_sqe(f->rg, &io->comp));
				return;
			}
			sqe = rs_ring_sqe(f->rg, &io->comp);
			io_uring_prep_write(sqe, fixed, f->zero_buf,
					    (unsigned)rs_min(len, f->zero_len), off);
			sqe->flags |= IOSQE_FIXED_FILE;
			return;
		}
	}
	sqe = rs_ring_sqe(f->rg, &io->comp);
	if (io->buf_index < 0 && io->op == RS_OP_READ)
		io_uring_prep_read(sqe, fixed, io->buf + io->done, (unsigned)len, off);
	else if (io->buf_index < 0)
		io_uring_prep_write(sqe, fixed, io->buf + io->done, (unsigned)len, off);
	else if (io->op == RS_OP_READ)
		io_uring_prep_read_fixed(sqe, fixed, io->buf + io->done, (unsigned)len, off,
					 io->buf_index);
	else
		io_uring_prep_write_fixed(sqe, fixed, io->buf + io->done, (unsigned)len, off,
					  io->buf_index);
	sqe->flags |= IOSQE_FIXED_FILE;
}

static int file_submit(struct rs_endpoint *ep, struct rs_io *io)
{
	struct file_ep *f = ep->priv;
	f->inflight++;
	io->wb_stage = WB_NONE;
	file_queue(ep, io);
	return 0;
}

static int file_flush_beside(struct rs_endpoint *ep)
{
	struct file_ep *f = ep->priv;
	return fdatasync(f->fd) || fdatasync(f->fd_buffered) ? -errno : 0;
}

static int file_flush(struct rs_endpoint *ep)
{
	int ret = file_flush_beside(ep);
	if (ret)
		return rs_fail(ep->r, ret, UINT64_MAX, "%s %s: fdatasync: %s", ep->role, ep->name,
			       strerror(-ret));
	return 0;
}

static int file_zero_extents(struct rs_endpoint *ep, uint64_t off, uint64_t len, rs_extent_fn fn,
			     void *arg)
{
	struct file_ep *f = ep->priv;
	/* A fully allocated file has no holes to find: a delta copy of many
	 * small runs would pay two lseeks per run for nothing. */
	if (ep->is_block || !f->may_have_holes)
		return 0;
	uint64_t end = rs_min(off + len, ep->size);
	while (off < end) {
		off_t data = lseek(f->fd_buffered, (off_t)off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			data = (off_t)end;
		else if (data < 0)
			return errno == EINVAL ? 0 :
						 -errno; /* SEEK_DATA unsupported: nothing known */
		if ((uint64_t)data > off) {
			int ret = fn(arg, off, rs_min((uint64_t)data, end) - off);
			if (ret)
				return ret;
		}
		if ((uint64_t)data >= end)
			break;
		off_t hole = lseek(f->fd_buffered, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		off = (uint64_t)hole;
	}
	return 0;
}

static unsigned file_inflight(struct rs_endpoint *ep)
{
	return ((struct file_ep *)ep->priv)->inflight;
}

static void file_close(struct rs_endpoint *ep)
{
	struct file_ep *f = ep->priv;
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->fd_buffered >= 0)
		close(f->fd_buffered);
	free(f->zero_buf);
	rs_wb_free(&f->wb);
	free(f);
	ep->priv = NULL;
}

const struct rs_endpoint_ops rs_file_ops = {
	.kind = "file",
	.open = file_open,
	.attach = file_attach,
	.submit = file_submit,
	.flush = file_flush,
	.flush_beside = file_flush_beside,
	.zero_extents = file_zero_extents,
	.inflight = file_inflight,
	.close = file_close,
};
