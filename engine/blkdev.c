/* SPDX-License-Identifier: MIT */
/* What an opened file or block device is: topology (ioctl, libblkid) and an
 * identity that survives a reopen but not a swap (sysfs, the loop driver). */
#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>
#include "internal.h"
#include "blkdev.h"

int rs_probe_block(int fd, struct rs_topology *t)
{
	memset(t, 0, sizeof *t);
	if (ioctl(fd, BLKGETSIZE64, &t->size))
		return -errno;
	int lss = 0;
	if (ioctl(fd, BLKSSZGET, &lss))
		return -errno;
	t->logical_sector = (uint32_t)lss;
	t->physical_sector = t->logical_sector;

	/* The topology refines the physical sector and adds the optimal I/O
	 * size; a device libblkid cannot probe keeps the ioctl's answer. */
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return 0;
	if (!blkid_probe_set_device(pr, fd, 0, 0)) {
		blkid_topology tp = blkid_probe_get_topology(pr);
		if (tp) {
			if (blkid_topology_get_logical_sector_size(tp))
				t->logical_sector =
					(uint32_t)blkid_topology_get_logical_sector_size(tp);
			if (blkid_topology_get_physical_sector_size(tp))
				t->physical_sector =
					(uint32_t)blkid_topology_get_physical_sector_size(tp);
			t->optimal_io = (uint32_t)blkid_topology_get_optimal_io_size(tp);
		}
	}
	blkid_free_probe(pr);
	return 0;
}

/* One sysfs attribute of the device, trailing whitespace dropped; "" when
 * it has none. */
static void sysfs_attr(dev_t rdev, const char *name, char *out, size_t len)
{
	char path[128];
	snprintf(path, sizeof path, "/sys/dev/block/%u:%u/%s", major(rdev), minor(rdev), name);
	out[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		n = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == 0))
		n--;
	out[n] = 0;
}

/* A number from the queue directory of rdev, or of its disk when rdev is a
 * partition (which has no queue of its own); 0 when neither says. */
static uint64_t queue_attr(dev_t rdev, const char *name)
{
	char attr[64], buf[32];
	for (int up = 0; up < 2; up++) {
		snprintf(attr, sizeof attr, "%squeue/%s", up ? "../" : "", name);
		sysfs_attr(rdev, attr, buf, sizeof buf);
		char *end;
		unsigned long long v = strtoull(buf, &end, 10);
		if (buf[0] && !*end)
			return v;
	}
	return 0;
}

void rs_probe_queue(uint64_t dev, struct rs_queue *q)
{
	memset(q, 0, sizeof *q);
	if (!major((dev_t)dev))
		return;
	q->optimal_io = (uint32_t)rs_min(queue_attr((dev_t)dev, "optimal_io_size"), UINT32_MAX);
	q->max_request =
		(uint32_t)rs_min(queue_attr((dev_t)dev, "max_sectors_kb") << 10, UINT32_MAX);
	q->nr_requests = (uint32_t)rs_min(queue_attr((dev_t)dev, "nr_requests"), UINT32_MAX);
}

struct desc {
	char buf[4096];
	size_t len;
	bool stable; /* something that names this very device was found */
};

__attribute__((format(printf, 2, 3))) static void add(struct desc *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(d->buf + d->len, sizeof d->buf - d->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		d->len = rs_min(d->len + (size_t)n, sizeof d->buf - 1);
}

/* A loop device is the file behind it: its device, inode and birth time
 * (inode numbers are reused), offset and size limit. */
static void loop_identity(int fd, dev_t rdev, struct desc *d)
{
	struct loop_info64 li;
	if (ioctl(fd, LOOP_GET_STATUS64, &li))
		return;
	add(d, "loop %llu:%llu +%llu/%llu;", (unsigned long long)li.lo_device,
	    (unsigned long long)li.lo_inode, (unsigned long long)li.lo_offset,
	    (unsigned long long)li.lo_sizelimit);
	d->stable = true;
	char file[PATH_MAX];
	sysfs_attr(rdev, "loop/backing_file", file, sizeof file);
	struct statx sx;
	if (*file && !statx(AT_FDCWD, file, 0, STATX_INO | STATX_BTIME, &sx) &&
	    sx.stx_ino == li.lo_inode &&
	    makedev(sx.stx_dev_major, sx.stx_dev_minor) == li.lo_device &&
	    (sx.stx_mask & STATX_BTIME))
		add(d, "born %lld.%u;", (long long)sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec);
}

/* What names a block device beyond its number, which the next device
 * attached may reuse: a WWN or serial, a device-mapper or md UUID, a
 * partition's place on such a disk, or the file behind a loop device.  A
 * device with none of these is named by its disk sequence number, which
 * changes with every attach (and every boot): such a device is never
 * resumed onto after it went away. */
static void block_identity(int fd, dev_t rdev, struct desc *d)
{
	static const char *const attrs[] = {
		"wwid", "device/wwid", "device/serial", "serial", "dm/uuid", "md/uuid",
	};
	static const char *const parent_attrs[] = {
		"../wwid",    "../device/wwid", "../device/serial",     "../serial",
		"../dm/uuid", "../md/uuid",     "../loop/backing_file",
	};
	char v[256];
	add(d, "blk %u:%u;", major(rdev), minor(rdev));
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		sysfs_attr(rdev, attrs[i], v, sizeof v);
		if (*v) {
			add(d, "%s=%s;", attrs[i], v);
			d->stable = true;
		}
	}
	sysfs_attr(rdev, "partition", v, sizeof v);
	if (*v) {
		add(d, "partition=%s;", v);
		sysfs_attr(rdev, "start", v, sizeof v);
		add(d, "start=%s;", v);
		for (size_t i = 0; i < sizeof parent_attrs / sizeof parent_attrs[0]; i++) {
			sysfs_attr(rdev, parent_attrs[i], v, sizeof v);
			if (*v) {
				add(d, "%s=%s;", parent_attrs[i], v);
				d->stable = true;
			}
		}
	}
	loop_identity(fd, rdev, d);
	if (!d->stable) {
		sysfs_attr(rdev, "diskseq", v, sizeof v);
		add(d, "diskseq=%s;", v);
	}
}

int rs_probe_identity(int fd, uint64_t size, uint64_t *dev, uint64_t *ino, uint8_t id[16])
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME, &sx))
		return -errno;
	struct desc *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	if (S_ISBLK(sx.stx_mode)) {
		dev_t rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
		*dev = (uint64_t)rdev;
		*ino = 0;
		block_identity(fd, rdev, d);
	} else {
		*dev = (uint64_t)makedev(sx.stx_dev_major, sx.stx_dev_minor);
		*ino = sx.stx_ino;
		/* The birth time tells a new file apart from a deleted one whose
		 * inode number it reuses, where the file system keeps it. */
		add(d, "file %llu %llu", (unsigned long long)*dev, (unsigned long long)*ino);
		if (sx.stx_mask & STATX_BTIME)
			add(d, " born %lld.%u", (long long)sx.stx_btime.tv_sec,
			    sx.stx_btime.tv_nsec);
		add(d, ";");
	}
	add(d, "size %llu", (unsigned long long)size);
	XXH128_canonicalFromHash((XXH128_canonical_t *)id, XXH3_128bits(d->buf, d->len));
	free(d);
	return 0;
}
