/* SPDX-License-Identifier: MIT */
/* Reading a tracking log as a change bitmap: the hook resync_bitmap_load()
 * takes when a file starts with RESYNC_TRACK_MAGIC, so every reader of v1
 * bitmaps (plan, resync-bitmap, resyncctl) reads tracking logs too. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "bitmap.h"
#include "track_load.h"
#include "track_log.h"

int rs_track_load_bitmap(struct resync_bitmap **out, const char *path, const char **why)
{
	struct rc_track t;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = "cannot open";
		return -errno;
	}
	int ret = rc_track_read(&t, fd);
	close(fd);
	if (ret) {
		*why = t.error;
		return ret;
	}
	struct resync_bitmap *b = NULL;
	ret = resync_bitmap_new(&b, t.device_size, t.granularity);
	if (ret) {
		rc_track_fini(&t);
		*why = "out of memory";
		return ret;
	}
	memcpy(b->words, t.bits, (size_t)t.bitmap_bytes);
	for (uint64_t i = 0; i < b->nwords; i++)
		b->words[i] = le64toh(b->words[i]);
	/* Open or recovered, the bits cover every acknowledged write. */
	b->flags = RESYNC_BITMAP_F_CONSISTENT;
	memcpy(b->generation, t.generation, 16);
	memcpy(b->disk_id, t.disk_id, 16);
	rc_track_fini(&t);
	*out = b;
	return 0;
}
