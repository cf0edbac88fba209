/* SPDX-License-Identifier: MIT */
/* What a block device is: size and sector sizes (ioctl and libblkid topology),
 * and what an opened file or device is, for checkpoints. */
#ifndef RESYNC_BLKDEV_H
#define RESYNC_BLKDEV_H

#include <stdint.h>

struct rs_topology {
	uint64_t size;
	uint32_t logical_sector;
	uint32_t physical_sector;
	uint32_t optimal_io; /* 0 when the device does not say */
};

int rs_probe_block(int fd, struct rs_topology *t);

/* What the request queue of device dev (or, for a partition, of its disk)
 * says, from sysfs; a field is 0 when it does not say (no such device: a
 * file system without one, like tmpfs or overlay). */
struct rs_queue {
	uint32_t optimal_io;  /* optimal_io_size */
	uint32_t max_request; /* max_sectors_kb: the largest request it takes whole */
	uint32_t nr_requests; /* requests it queues */
};
void rs_probe_queue(uint64_t dev, struct rs_queue *q);
/* The identity of the object fd is open on: *dev and *ino as st_dev/st_ino
 * of a file or st_rdev/0 of a block device (to refuse a copy onto itself),
 * and in id a digest of everything that tells it apart from whatever may
 * later take its name or number (see blkdev.c), size included. */
int rs_probe_identity(int fd, uint64_t size, uint64_t *dev, uint64_t *ino, uint8_t id[16]);

#endif
