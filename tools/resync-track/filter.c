/* SPDX-License-Identifier: MIT */
/*
 * nbdkit-resync-track-filter: records every write, zero and trim the server
 * acknowledges in a tracking log (uapi/resync/track_log.h), crash-safely, in
 * front of any plugin.  doc/track-log.md is the user's page.
 *
 * The contract, DRBD's activity log: a request is passed down only once
 * every region it touches is hot in a durable log slot; a region leaves the
 * log only once its bits are durable in the body.  Reads pass untouched.
 * Locks: io_lock serialises writes to the log file and is taken before lock,
 * which guards the memory state; no file I/O happens under lock alone except
 * during rotation, when no request is in flight.
 */
#include <nbdkit-filter.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "resync/change_bitmap.h"
#include "track_log.h"

static char *bitmap_path;
static char *control_path;
static uint32_t granularity = 64u << 10;
static int granularity_set;
static uint32_t region_size = RESYNC_TRACK_DEFAULT_REGION;
static unsigned idle_secs = 5;
static uint8_t cfg_generation[16];
static uint8_t cfg_disk_id[16];

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct rc_track t; /* bits and wanted activity log (t.hot) */
static int have_file;     /* t was read from an existing file */
static int fd = -1;
static uint8_t *al_disk;  /* the activity log of the durable slot */
static uint8_t *touched;  /* regions written since the last cooling pass */
static uint8_t *dirty;    /* body blocks changed since last written, one byte each */
static uint8_t *slot_buf; /* under io_lock */
static uint8_t *slot_hot; /* under io_lock */
static int broken;        /* a log write failed: no write may be acknowledged */
static unsigned inflight;
static int rotating;
static int stopping;
static int cool_requested; /* a flush asked the cooler for a pass */
static struct timespec last_write;
static pthread_t idle_thread, ctl_thread;
static int idle_started, ctl_started;
static int ctl_fd = -1;

static int parse_id(const char *s, uint8_t id[16])
{
	unsigned n = 0;
	memset(id, 0, 16);
	for (; *s; s++) {
		if (*s == '-')
			continue;
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (n >= 32)
			return -1;
		id[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
		n++;
	}
	return n == 32 ? 0 : -1;
}

static int pow2_size(const char *key, const char *value, uint32_t *out)
{
	int64_t v = nbdkit_parse_size(value);
	if (v == -1)
		return -1;
	if (v <= 0 || v > (1 << 30) || (v & (v - 1))) {
		nbdkit_error("%s=%s: not a power of two between 1 and 1G", key, value);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int track_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
			const char *value)
{
	if (!strcmp(key, "bitmap")) {
		free(bitmap_path);
		bitmap_path = nbdkit_absolute_path(value);
		return bitmap_path ? 0 : -1;
	}
	if (!strcmp(key, "control")) {
		free(control_path);
		control_path = nbdkit_absolute_path(value);
		return control_path ? 0 : -1;
	}
	if (!strcmp(key, "granularity")) {
		granularity_set = 1;
		if (pow2_size(key, value, &granularity))
			return -1;
		if (granularity < RESYNC_BITMAP_MIN_GRANULARITY) {
			nbdkit_error("granularity=%s: below the minimum of 512", value);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "region"))
		return pow2_size(key, value, &region_size);
	if (!strcmp(key, "idle"))
		return nbdkit_parse_unsigned(key, value, &idle_secs);
	if (!strcmp(key, "generation") || !strcmp(key, "disk-id")) {
		if (parse_id(value, key[0] == 'g' ? cfg_generation : cfg_disk_id) == 0)
			return 0;
		nbdkit_error("%s=%s: not 32 hex digits", key, value);
		return -1;
	}
	return next(nxdata, key, value);
}

static int track_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
	if (!bitmap_path) {
		nbdkit_error("the bitmap=PATH parameter is required");
		return -1;
	}
	if (control_path && strlen(control_path) >= sizeof((struct sockaddr_un *)0)->sun_path) {
		nbdkit_error("control=%s: path too long for a Unix socket", control_path);
		return -1;
	}
	return next(nxdata);
}

/* Before the fork: everything that can be checked without the plugin, so
 * a bad bitmap stops nbdkit before it detaches. */
static int track_get_ready(int thread_model)
{
	struct stat st;
	if (stat(bitmap_path, &st) && errno == ENOENT) {
		char *dir = strdup(bitmap_path);
		if (!dir) {
			nbdkit_error("out of memory");
			return -1;
		}
		*strrchr(dir, '/') = 0;
		int ok = access(*dir ? dir : "/", W_OK) == 0;
		free(dir);
		if (!ok) {
			nbdkit_error("bitmap %s: cannot be created: %m", bitmap_path);
			return -1;
		}
		return 0;
	}
	/* Root may write anything; a file nobody may write is read-only all the same. */
	if (!(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
		nbdkit_error("bitmap %s is read-only", bitmap_path);
		return -1;
	}
	fd = open(bitmap_path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		nbdkit_error("bitmap %s: cannot open for writing: %m", bitmap_path);
		return -1;
	}
	if (rc_track_read(&t, fd)) {
		nbdkit_error(
			"bitmap %s cannot be trusted: %s; refusing to start (move it away to start a new one)",
			bitmap_path, t.error);
		return -1;
	}
	if (granularity_set && granularity != t.granularity) {
		nbdkit_error("bitmap %s has granularity %u, not granularity=%u", bitmap_path,
			     t.granularity, granularity);
		return -1;
	}
	have_file = 1;
	return 0;
}

static int pwrite_full(const void *buf, uint64_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, (size_t)len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Under io_lock: writes t.hot as the next slot and makes it durable. */
static int write_slot(uint64_t flags)
{
	pthread_mutex_lock(&lock);
	uint64_t seq = t.sequence + 1;
	rc_track_encode_slot(&t, seq, flags, t.hot, slot_buf);
	memcpy(slot_hot, t.hot, (size_t)t.hot_bytes);
	pthread_mutex_unlock(&lock);
	if (pwrite_full(slot_buf, t.slot_size, rc_track_slot_offset(&t, seq)) || fdatasync(fd)) {
		nbdkit_error("bitmap %s: writing the activity log: %m", bitmap_path);
		return -1;
	}
	pthread_mutex_lock(&lock);
	t.sequence = seq;
	t.flags = flags;
	memcpy(al_disk, slot_hot, (size_t)t.hot_bytes);
	pthread_mutex_unlock(&lock);
	return 0;
}

static void set_broken(void)
{
	pthread_mutex_lock(&lock);
	broken = 1;
	pthread_mutex_unlock(&lock);
}

/* Writes the changed body blocks, syncs, then drops from the activity log
 * the regions that had no write since the last pass (all of them when
 * all is set) and had none while the blocks were written. */
static int cool(int all)
{
	int ret = 0;
	pthread_mutex_lock(&io_lock);
	pthread_mutex_lock(&lock);
	if (broken) {
		pthread_mutex_unlock(&lock);
		pthread_mutex_unlock(&io_lock);
		return -1;
	}
	uint64_t n = 0;
	for (uint64_t k = 0; k < t.body_blocks; k++)
		n += dirty[k];
	struct resync_track_block *blocks = n ? malloc(n * sizeof *blocks) : NULL;
	uint64_t *where = n ? malloc(n * sizeof *where) : NULL;
	uint8_t *cand = malloc((size_t)t.hot_bytes);
	if ((n && (!blocks || !where)) || !cand) {
		pthread_mutex_unlock(&lock);
		ret = -1;
		errno = ENOMEM;
		goto out;
	}
	for (uint64_t k = 0, i = 0; k < t.body_blocks; k++) {
		if (!dirty[k])
			continue;
		rc_track_encode_block(&t, k, &blocks[i]);
		where[i++] = rc_track_block_offset(&t, k);
		dirty[k] = 0;
	}
	int pending = 0;
	for (uint64_t i = 0; i < t.hot_bytes; i++) {
		cand[i] = t.hot[i] & (all ? 0xff : (uint8_t)~touched[i]);
		touched[i] = 0;
		pending |= t.hot[i] & ~al_disk[i];
	}
	uint64_t flags = t.flags;
	pthread_mutex_unlock(&lock);

	/* The blocks may hold bits of regions whose writers still wait for
	 * this lock to make them hot: a block torn now must find them hot. */
	if (pending && write_slot(flags)) {
		ret = -1;
		goto out;
	}

	for (uint64_t i = 0; !ret && i < n; i++)
		ret = pwrite_full(&blocks[i], sizeof blocks[i], where[i]);
	if (!ret && n)
		ret = fdatasync(fd);
	if (ret)
		goto out;

	pthread_mutex_lock(&lock);
	int changed = 0;
	for (uint64_t i = 0; i < t.hot_bytes; i++) {
		t.hot[i] &= (uint8_t) ~(cand[i] & ~touched[i]);
		changed |= t.hot[i] != al_disk[i];
	}
	flags = t.flags;
	pthread_mutex_unlock(&lock);
	if (changed && write_slot(flags))
		ret = -1;
out:
	if (ret) {
		nbdkit_error("bitmap %s: writing the bitmap: %m", bitmap_path);
		set_broken();
	}
	free(blocks);
	free(where);
	free(cand);
	pthread_mutex_unlock(&io_lock);
	return ret;
}

/* Makes regions [r0, r1] durable in the activity log; several writers
 * waiting here share one slot write. */
static int commit_regions(uint64_t r0, uint64_t r1)
{
	int ret = 0;
	pthread_mutex_lock(&io_lock);
	pthread_mutex_lock(&lock);
	int covered = !broken;
	for (uint64_t r = r0; covered && r <= r1; r++)
		covered = rc_track_test(al_disk, r);
	/* A cooling pass may have dropped them again after we added them. */
	for (uint64_t r = r0; r <= r1; r++)
		t.hot[r / 8] |= (uint8_t)(1u << (r % 8));
	int bad = broken;
	uint64_t flags = t.flags;
	pthread_mutex_unlock(&lock);
	if (bad)
		ret = -1;
	else if (!covered && write_slot(flags)) {
		set_broken();
		ret = -1;
	}
	pthread_mutex_unlock(&io_lock);
	return ret;
}

/* A request is done; only a rotation waiting for none in flight needs the
 * lock (inflight and rotating are atomic, so the common case skips it). */
static void track_end(void)
{
	if (__atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST) == 0 &&
	    __atomic_load_n(&rotating, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&lock);
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
}

/* Records [off, off + count) before the request goes down; 0 or -1 with *err. */
static int track_begin(uint64_t off, uint32_t count, int *err)
{
	pthread_mutex_lock(&lock);
	while (rotating)
		pthread_cond_wait(&cond, &lock);
	if (broken) {
		pthread_mutex_unlock(&lock);
		nbdkit_error("bitmap %s: an earlier write to it failed; refusing writes",
			     bitmap_path);
		*err = EIO;
		return -1;
	}
	__atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
	int need = 0;
	uint64_t r0 = 0, r1 = 0;
	if (count && off < t.device_size) {
		rc_track_mark(&t, off, count);
		uint64_t end = off + count > t.device_size ? t.device_size : off + count;
		uint64_t b0 = off / t.granularity, b1 = (end - 1) / t.granularity;
		for (uint64_t k = (b0 / 8) / RESYNC_TRACK_BLOCK_BITS_BYTES;
		     k <= (b1 / 8) / RESYNC_TRACK_BLOCK_BITS_BYTES; k++)
			dirty[k] = 1;
		r0 = off / t.region_size;
		r1 = (end - 1) / t.region_size;
		for (uint64_t r = r0; r <= r1; r++) {
			touched[r / 8] |= (uint8_t)(1u << (r % 8));
			need |= !rc_track_test(t.hot, r) || !rc_track_test(al_disk, r);
			t.hot[r / 8] |= (uint8_t)(1u << (r % 8));
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &last_write);
	pthread_mutex_unlock(&lock);
	if (need && commit_regions(r0, r1)) {
		track_end();
		*err = EIO;
		return -1;
	}
	return 0;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* The cooler: a pass when a flush asked for one, at most one a second, and
 * all regions after idle_secs without writes.  Off the flush's path: a
 * flush needs nothing from the log (hot regions already cover its writes),
 * cooling only trims the hot set, and a pass per flush would add a sync of
 * the log to every flush of every client. */
static void *cooler_main(void *arg)
{
	struct timespec last_pass = { 0, 0 };
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec now, until;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double wait = 1.0;
		if (cool_requested && !broken) {
			double gap = seconds_between(&last_pass, &now);
			if (gap >= 1.0) {
				cool_requested = 0;
				pthread_mutex_unlock(&lock);
				cool(0);
				clock_gettime(CLOCK_MONOTONIC, &last_pass);
				pthread_mutex_lock(&lock);
				continue;
			}
			wait = 1.0 - gap;
		}
		int idle = seconds_between(&last_write, &now) >= (double)idle_secs;
		int any = 0;
		for (uint64_t i = 0; !any && i < t.hot_bytes; i++)
			any = al_disk[i] != 0;
		if (idle && any && !broken) {
			pthread_mutex_unlock(&lock);
			cool(1);
			clock_gettime(CLOCK_MONOTONIC, &last_pass);
			pthread_mutex_lock(&lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(wait * 1e9);
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&cond, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* The bits so far to dest as a closed log; the live log restarts empty
 * under generation gen.  No request is in flight meanwhile. */
static int rotate(const uint8_t gen[16], const char *dest, const char **why)
{
	pthread_mutex_lock(&lock);
	while (rotating)
		pthread_cond_wait(&cond, &lock);
	__atomic_store_n(&rotating, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&inflight, __ATOMIC_SEQ_CST))
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&io_lock);
	pthread_mutex_lock(&lock);
	int ret = -1;
	struct rc_track snap = t;
	snap.hot = calloc(1, (size_t)(t.hot_bytes ? t.hot_bytes : 1));
	snap.flags = t.flags & RESYNC_TRACK_F_RECOVERED;
	if (broken)
		*why = "an earlier write to the bitmap failed";
	else if (!snap.hot)
		*why = "out of memory";
	else if (rc_track_write_new(&snap, dest, 0600))
		*why = snap.error;
	else {
		memset(t.bits, 0, (size_t)(t.body_blocks * RESYNC_TRACK_BLOCK_BITS_BYTES));
		memset(t.hot, 0, (size_t)t.hot_bytes);
		memcpy(t.generation, gen, 16);
		t.flags = RESYNC_TRACK_F_OPEN;
		t.recovered_regions = 0;
		int nfd = -1;
		if (rc_track_write_new(&t, bitmap_path, 0600) ||
		    (nfd = open(bitmap_path, O_RDWR | O_CLOEXEC)) < 0) {
			*why = "cannot rewrite the live bitmap";
			broken = 1;
		} else {
			close(fd);
			fd = nfd;
			memset(al_disk, 0, (size_t)t.hot_bytes);
			memset(touched, 0, (size_t)t.hot_bytes);
			memset(dirty, 0, (size_t)t.body_blocks);
			ret = 0;
		}
	}
	free(snap.hot);
	__atomic_store_n(&rotating, 0, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_mutex_unlock(&io_lock);
	return ret;
}

/* One command per connection: "rotate GEN-HEX32 SNAPSHOT-PATH\n". */
static void serve_control(int c)
{
	char line[4200], reply[4300];
	size_t len = 0;
	while (len < sizeof line - 1) {
		ssize_t n = read(c, line + len, sizeof line - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = 0;
	line[strcspn(line, "\n")] = 0;
	char *save = NULL, *cmd = strtok_r(line, " ", &save);
	char *gen = strtok_r(NULL, " ", &save), *dest = strtok_r(NULL, "", &save);
	uint8_t id[16];
	const char *why = NULL;
	if (!cmd || strcmp(cmd, "rotate") || !gen || !dest || !*dest)
		why = "usage: rotate GENERATION-HEX32 SNAPSHOT-PATH";
	else if (parse_id(gen, id))
		why = "generation is not 32 hex digits";
	else if (dest[0] != '/')
		why = "snapshot path must be absolute";
	else if (rotate(id, dest, &why) == 0)
		why = NULL;
	if (why)
		snprintf(reply, sizeof reply, "error: %s\n", why);
	else
		snprintf(reply, sizeof reply, "ok\n");
	if (write(c, reply, strlen(reply)) < 0)
		nbdkit_debug("control: reply lost: %m");
}

static void *ctl_main(void *arg)
{
	struct pollfd p = { .fd = ctl_fd, .events = POLLIN };
	for (;;) {
		pthread_mutex_lock(&lock);
		int stop = stopping;
		pthread_mutex_unlock(&lock);
		if (stop)
			break;
		if (poll(&p, 1, 200) <= 0)
			continue;
		int c = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_control(c);
		close(c);
	}
	return NULL;
}

static int start_control(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strcpy(a.sun_path, control_path);
	unlink(control_path);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0 || bind(ctl_fd, (struct sockaddr *)&a, sizeof a) || listen(ctl_fd, 4)) {
		nbdkit_error("control=%s: %m", control_path);
		return -1;
	}
	chmod(control_path, 0600);
	return 0;
}

static int64_t backend_size(nbdkit_backend *backend)
{
	nbdkit_next *next = nbdkit_next_context_open(backend, 1, "", 1);
	if (!next)
		return -1;
	int64_t size = -1;
	if (next->prepare(next) != -1) {
		size = next->get_size(next);
		next->finalize(next);
	}
	nbdkit_next_context_close(next);
	return size;
}

static int track_after_fork(nbdkit_backend *backend)
{
	int64_t size = backend_size(backend);
	if (size < 0) {
		nbdkit_error("resync-track: cannot get the disk size from the plugin");
		return -1;
	}
	if (have_file && t.device_size != (uint64_t)size) {
		nbdkit_error("bitmap %s covers %llu bytes but the disk has %lld; refusing to start",
			     bitmap_path, (unsigned long long)t.device_size, (long long)size);
		return -1;
	}
	if (!have_file) {
		if (rc_track_init(&t, (uint64_t)size, granularity, region_size)) {
			nbdkit_error("bitmap %s: %s", bitmap_path, t.error);
			return -1;
		}
		memcpy(t.generation, cfg_generation, 16);
		memcpy(t.disk_id, cfg_disk_id, 16);
		if (rc_track_write_new(&t, bitmap_path, 0600)) {
			nbdkit_error("bitmap %s: cannot create: %s: %m", bitmap_path, t.error);
			return -1;
		}
		fd = open(bitmap_path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			nbdkit_error("bitmap %s: %m", bitmap_path);
			return -1;
		}
	}
	al_disk = calloc(1, (size_t)t.hot_bytes + 1);
	touched = calloc(1, (size_t)t.hot_bytes + 1);
	slot_hot = calloc(1, (size_t)t.hot_bytes + 1);
	dirty = calloc(1, (size_t)t.body_blocks + 1);
	slot_buf = malloc((size_t)t.slot_size);
	if (!al_disk || !touched || !slot_hot || !dirty || !slot_buf) {
		nbdkit_error("out of memory");
		return -1;
	}
	memcpy(al_disk, t.hot, (size_t)t.hot_bytes);
	uint64_t flags = t.flags | RESYNC_TRACK_F_OPEN;
	if (t.recovered_now) {
		/* Merged hot regions' bits go to the body before the log lets them go. */
		nbdkit_debug("bitmap %s was not closed cleanly: %llu hot regions merged",
			     bitmap_path, (unsigned long long)t.recovered_now);
		for (uint64_t r = 0; r < t.region_count; r++) {
			uint64_t first, n;
			if (!rc_track_test(t.hot, r))
				continue;
			rc_track_region_blocks(&t, r, &first, &n);
			memset(dirty + first, 1, (size_t)n);
		}
		t.recovered_regions = t.recovered_now;
		flags |= RESYNC_TRACK_F_RECOVERED;
		t.flags = flags;
		if (cool(1))
			return -1;
	}
	pthread_mutex_lock(&io_lock);
	int ret = write_slot(flags);
	pthread_mutex_unlock(&io_lock);
	if (ret)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &last_write);
	if (control_path && start_control())
		return -1;
	if (pthread_create(&idle_thread, NULL, cooler_main, NULL)) {
		nbdkit_error("pthread_create: %m");
		return -1;
	}
	idle_started = 1;
	if (control_path) {
		if (pthread_create(&ctl_thread, NULL, ctl_main, NULL)) {
			nbdkit_error("pthread_create: %m");
			return -1;
		}
		ctl_started = 1;
	}
	return 0;
}

/* A clean shutdown: every region cools and the log is marked closed. */
static void track_cleanup(nbdkit_backend *backend)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	if (idle_started)
		pthread_join(idle_thread, NULL);
	if (ctl_started)
		pthread_join(ctl_thread, NULL);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(control_path);
	}
	if (fd >= 0 && al_disk && !broken && cool(1) == 0) {
		pthread_mutex_lock(&io_lock);
		write_slot(t.flags & ~RESYNC_TRACK_F_OPEN);
		pthread_mutex_unlock(&io_lock);
	}
}

static void track_unload(void)
{
	if (fd >= 0)
		close(fd);
	rc_track_fini(&t);
	free(al_disk);
	free(touched);
	free(slot_hot);
	free(dirty);
	free(slot_buf);
	free(bitmap_path);
	free(control_path);
}

static int track_prepare(nbdkit_next *next, void *handle, int readonly)
{
	int64_t size = next->get_size(next);
	if (size == -1)
		return -1;
	if ((uint64_t)size != t.device_size) {
		nbdkit_error("bitmap %s covers %llu bytes but this export has %lld", bitmap_path,
			     (unsigned long long)t.device_size, (long long)size);
		return -1;
	}
	return 0;
}

static int track_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
			uint64_t offset, uint32_t flags, int *err)
{
	if (track_begin(offset, count, err))
		return -1;
	int r = next->pwrite(next, buf, count, offset, flags, err);
	track_end();
	return r;
}

static int track_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
		      uint32_t flags, int *err)
{
	if (track_begin(offset, count, err))
		return -1;
	int r = next->zero(next, count, offset, flags, err);
	track_end();
	return r;
}

static int track_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
		      uint32_t flags, int *err)
{
	if (track_begin(offset, count, err))
		return -1;
	int r = next->trim(next, count, offset, flags, err);
	track_end();
	return r;
}

/* A flush asks for a cooling pass (passes coalesce). */
static int track_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
	if (next->flush(next, flags, err) == -1)
		return -1;
	pthread_mutex_lock(&lock);
	cool_requested = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return 0;
}

static struct nbdkit_filter filter = {
	.name = "resync-track",
	.longname = "resync change tracking filter",
	.config = track_config,
	.config_complete = track_config_complete,
	.config_help = "bitmap=PATH         (required) tracking log, created if missing\n"
		       "granularity=SIZE    bytes per bit, power of two (default 64K)\n"
		       "region=SIZE         activity-log region (default 4M)\n"
		       "idle=SECONDS        cool hot regions after this idle time (default 5)\n"
		       "generation=HEX32    generation recorded in a new log\n"
		       "disk-id=HEX32       disk id recorded in a new log\n"
		       "control=PATH        Unix socket for 'rotate GEN SNAPSHOT' commands",
	.get_ready = track_get_ready,
	.after_fork = track_after_fork,
	.cleanup = track_cleanup,
	.unload = track_unload,
	.prepare = track_prepare,
	.pwrite = track_pwrite,
	.zero = track_zero,
	.trim = track_trim,
	.flush = track_flush,
};

NBDKIT_REGISTER_FILTER(filter)
