/* SPDX-License-Identifier: MIT */
/* What a block device is: size and sector sizes (ioctl and libblkid topology). */
#ifndef RESYNC_PROBE_H
#define RESYNC_PROBE_H

#include <stdint.h>

struct rs_topology {
	uint64_t size;
	uint32_t logical_sector;
	uint32_t physical_sector;
	uint32_t optimal_io;    /* 0 when the device does not say */
};

int rs_probe_block(int fd, struct rs_topology *t);

#endif
