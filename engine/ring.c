/* SPDX-License-Identifier: MIT */
/* The engine's io_uring (ring.h): SQEs that carry their completion. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ring.h"

/* Only resync_run()'s thread submits to and reaps from the ring, so the
 * kernel may skip the locking a shared ring needs (SINGLE_ISSUER) and run
 * completion work when we wait for it rather than interrupting us for it
 * (DEFER_TASKRUN, COOP_TASKRUN).  Kernels that lack a flag refuse it with
 * EINVAL; each set is tried in turn down to none. */
int rs_ring_init(struct rs_ring *rg, unsigned entries)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;
	for (unsigned i = 0; i < sizeof tries / sizeof *tries && ret == -EINVAL; i++) {
		struct io_uring_params p = { .flags = tries[i] };
		memset(rg, 0, sizeof *rg);
		ret = io_uring_queue_init_params(entries, &rg->ring, &p);
		if (!ret)
			rg->setup_flags = tries[i];
	}
	return ret;
}

/* Whether one of the calling thread's io-wq workers (threads of this process
 * named iou-wrk-<tid>) is running or runnable.  Unreadable /proc: no. */
static bool worker_running(void)
{
	char want[32], path[300], buf[256];
	snprintf(want, sizeof want, "(iou-wrk-%d) ", (int)gettid());
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return false;
	bool running = false;
	struct dirent *e;
	while (!running && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		/* "tid (comm) S ...": the comm of a worker has no ')' in it. */
		const char *c = strchr(buf, '(');
		size_t len = strlen(want);
		running = c && !strncmp(c, want, len) && c[len] == 'R';
	}
	closedir(d);
	return running;
}

/* Once resync_run() returns nothing of the run may hold its files: an
 * appliance unmounts or detaches right after.  A request the kernel punted
 * to an io-wq worker (buffered I/O on a file system without nowait support,
 * every fallocate) holds the file, fixed or not, until the request is freed,
 * and the worker drops its reference only after it queued the completion we
 * reaped: a worker preempted in between frees the request later, and after
 * the ring is closed that free runs on a kernel work queue, whose fput is
 * deferred again; an umount meanwhile fails with EBUSY (unregistering the
 * files does not wait for requests on current kernels).  So the drain below:
 * with every completion reaped, wait until no worker of this thread is
 * running (the late frees are then queued on the ring), run the ring's
 * queued work here, where the last fput completes before the syscall
 * returns, and only then close the ring.  The wait is bounded by
 * RS_RING_DRAIN_MS: a worker starved for longer only delays the release,
 * as before. */
#define RS_RING_DRAIN_MS 5000

void rs_ring_exit(struct rs_ring *rg)
{
	if (rg->files_registered)
		io_uring_unregister_files(&rg->ring);
	if (!rg->pending) {
		for (unsigned ms = 0; ms < RS_RING_DRAIN_MS && worker_running(); ms++) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
			nanosleep(&ts, NULL);
		}
		io_uring_get_events(&rg->ring);
	}
	io_uring_queue_exit(&rg->ring);
}

struct io_uring_sqe *rs_ring_sqe(struct rs_ring *rg, struct rs_completion *c)
{
	struct io_uring_sqe *sqe = rg->error ? NULL : io_uring_get_sqe(&rg->ring);
	while (!sqe && !rg->error) {
		/* A full queue that the kernel will not take (a dead ring, an
		 * overflowing completion queue nobody reaps here) never drains:
		 * retrying would spin forever. */
		int ret = io_uring_submit(&rg->ring);
		if (ret == -EINTR)
			continue;
		if (ret <= 0)
			rg->error = ret < 0 ? ret : -EBUSY;
		else
			sqe = io_uring_get_sqe(&rg->ring);
	}
	if (!sqe) {
		memset(&rg->scratch, 0, sizeof rg->scratch);
		return &rg->scratch;
	}
	io_uring_sqe_set_data(sqe, c);
	rg->pending++;
	return sqe;
}

int rs_ring_register_files(struct rs_ring *rg, const int *fds, unsigned n)
{
	/* A sparse table lets each endpoint add its files as it attaches. */
	if (!rg->files_registered) {
		int ret = io_uring_register_files_sparse(&rg->ring, 16);
		if (ret)
			return ret;
	}
	unsigned first = (unsigned)rg->files_registered;
	if (first + n > 16)
		return -ENFILE;
	int ret = io_uring_register_files_update(&rg->ring, first, fds, n);
	if (ret < 0)
		return ret;
	rg->files_registered += (int)n;
	return (int)first;
}

int rs_ring_register_buffers(struct rs_ring *rg, const struct iovec *iov, unsigned n)
{
	return io_uring_register_buffers(&rg->ring, iov, n);
}

void rs_ring_poll(struct rs_ring *rg, int fd, unsigned mask, struct rs_completion *c)
{
	io_uring_prep_poll_add(rs_ring_sqe(rg, c), fd, mask);
}

int rs_ring_run(struct rs_ring *rg, uint64_t timeout_ns)
{
	struct io_uring_cqe *cqe;
	int ret;
	if (rg->error)
		return rg->error;
	if (timeout_ns) {
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(timeout_ns / 1000000000ull),
			.tv_nsec = (long long)(timeout_ns % 1000000000ull),
		};
		ret = io_uring_submit_and_wait_timeout(&rg->ring, &cqe, 1, &ts, NULL);
	} else {
		/* Under DEFER_TASKRUN completions are posted only when asked. */
		ret = io_uring_submit_and_get_events(&rg->ring);
	}
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
		return ret;
	int n = 0;
	/* Handlers may queue new SQEs; they go in with the next run. */
	while (io_uring_peek_cqe(&rg->ring, &cqe) == 0) {
		struct rs_completion *c = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&rg->ring, cqe);
		rg->pending--;
		c->fn(c, res);
		n++;
	}
	return n;
}
