/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include "checkpoint.h"
#include "durable.h"
#include "internal.h"

void rs_checkpoint_identity(const struct resync *r, uint8_t id[16])
{
	XXH3_state_t *st = XXH3_createState();
	const char *parts[] = { r->source, r->target, r->mode_arg ? r->mode_arg : "" };
	uint32_t mode = (uint32_t)r->mode;
	memset(id, 0, 16);
	if (!st)
		return;
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, &mode, sizeof mode);
	for (size_t i = 0; i < 3; i++)
		XXH3_128bits_update(st, parts[i], strlen(parts[i]) + 1);
	XXH128_canonicalFromHash((XXH128_canonical_t *)id, XXH3_128bits_digest(st));
	XXH3_freeState(st);
}

int rs_checkpoint_load(struct resync *r, const char *path, const struct rs_plan *p,
		       struct resync_bitmap **out)
{
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	struct resync_bitmap *b;
	int ret = resync_bitmap_load(&b, path);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "checkpoint %s: %s", path,
			       *resync_bitmap_load_error() ? resync_bitmap_load_error() : strerror(-ret));
	if (!(b->flags & RESYNC_BITMAP_F_CHECKPOINT) || memcmp(b->disk_id, p->identity, 16) ||
	    b->device_size != p->size || b->granularity != p->block) {
		resync_bitmap_free(b);
		return rs_fail(r, -ESTALE, UINT64_MAX,
			       "checkpoint %s belongs to another copy (other endpoints, mode, size "
			       "or block size); remove it to start over",
			       path);
	}
	*out = b;
	return 1;
}

int rs_checkpoint_save(struct resync *r, const char *path, struct rs_plan *p)
{
	p->todo->flags = RESYNC_BITMAP_F_CHECKPOINT;
	memcpy(p->todo->disk_id, p->identity, 16);
	int ret = resync_bitmap_save(p->todo, path);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "checkpoint %s: saving: %s", path, strerror(-ret));
	r->st.checkpoints++;
	return 0;
}

int rs_checkpoint_remove(struct resync *r, const char *path)
{
	int ret = rs_remove_durable(path);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "checkpoint %s: removing: %s", path, strerror(-ret));
	return 0;
}
