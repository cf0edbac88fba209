/* SPDX-License-Identifier: MIT */
#include <blkid/blkid.h>
#include <errno.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include "probe.h"

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
				t->logical_sector = (uint32_t)blkid_topology_get_logical_sector_size(tp);
			if (blkid_topology_get_physical_sector_size(tp))
				t->physical_sector = (uint32_t)blkid_topology_get_physical_sector_size(tp);
			t->optimal_io = (uint32_t)blkid_topology_get_optimal_io_size(tp);
		}
	}
	blkid_free_probe(pr);
	return 0;
}
