/* SPDX-License-Identifier: MIT */
/*
 * resync-bitmap's commands for records kept over time: merge (OR of change
 * bitmaps or tracking logs), reset (a tracking log or bitmap emptied under a
 * new generation) and rotate (asks a running nbdkit-resync-track-filter, via
 * its control socket, to save its bits and restart under a new generation),
 * and the tracking-log lines of dump.  Formats: uapi/resync/change_bitmap.h
 * and uapi/resync/track_log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "resync/resync.h"
#include "resync/change_bitmap.h"
#include "track_log.h"
#include "cli.h"

static int load(const char *path, resync_bitmap **b)
{
	int err = resync_bitmap_load(b, path);
	if (!err)
		return EXIT_OK;
	const char *why = resync_bitmap_load_error();
	return *why ? fail("%s: %s (%s)", path, why, strerror(-err)) :
		      fail("%s: %s", path, strerror(-err));
}

/* merge OUT IN...: the union as a v1 bitmap with the first input's
 * generation, disk id and granularity; consistent when every input is. */
int cmd_merge(int argc, char **argv)
{
	if (argc < 3)
		return usage("merge: expected OUT and at least one input");
	resync_bitmap *out = NULL;
	int ret = load(argv[2], &out);
	uint64_t flags = out ? resync_bitmap_flags(out) & RESYNC_BITMAP_F_CONSISTENT : 0;
	for (int i = 3; !ret && i < argc; i++) {
		resync_bitmap *in = NULL;
		ret = load(argv[i], &in);
		if (!ret && resync_bitmap_device_size(in) != resync_bitmap_device_size(out))
			ret = fail("%s: covers %llu bytes, %s covers %llu", argv[i],
				   (unsigned long long)resync_bitmap_device_size(in), argv[2],
				   (unsigned long long)resync_bitmap_device_size(out));
		if (!ret && !(resync_bitmap_flags(in) & RESYNC_BITMAP_F_CONSISTENT))
			flags = 0;
		uint64_t off = 0, len;
		while (!ret && resync_bitmap_next(in, &off, &len) == 1) {
			resync_bitmap_mark(out, off, len);
			off += len;
		}
		resync_bitmap_free(in);
	}
	if (!ret) {
		resync_bitmap_set_flags(out, flags);
		ret = save_bitmap(out, argv[1]);
	}
	resync_bitmap_free(out);
	return ret;
}

static int parse_hex_id(const char *s, uint8_t id[16])
{
	unsigned n = 0;
	memset(id, 0, 16);
	for (; *s; s++) {
		if (*s == '-')
			continue;
		char c = *s;
		int v = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 :
					       -1;
		if (v < 0 || n >= 32)
			return -1;
		id[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
		n++;
	}
	return n == 32 ? 0 : -1;
}

/* reset FILE GENERATION [--force]: empty bits, the new generation, closed.
 * A tracking log still marked open may be in use by a live filter: refused
 * unless --force says its server is gone. */
int cmd_reset(int argc, char **argv)
{
	int force = argc == 4 && !strcmp(argv[3], "--force");
	if (argc != 3 && !force)
		return usage("reset: expected FILE GENERATION-HEX32 [--force]");
	const char *path = argv[1];
	uint8_t gen[16];
	if (parse_hex_id(argv[2], gen))
		return usage("reset: bad generation %s: 32 hex digits", argv[2]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("%s: %s", path, strerror(errno));
	char magic[8] = { 0 };
	ssize_t n = pread(fd, magic, sizeof magic, 0);
	if (n == (ssize_t)sizeof magic && !memcmp(magic, RESYNC_TRACK_MAGIC, sizeof magic)) {
		struct rc_track t;
		int err = rc_track_read(&t, fd);
		close(fd);
		if (err)
			return fail("%s: %s (%s)", path, t.error, strerror(-err));
		int ret = EXIT_OK;
		if ((t.flags & RESYNC_TRACK_F_OPEN) && !force)
			ret = fail("%s: the log is open (a running filter, or one that died): "
				   "use rotate on a live one, --force on a dead one",
				   path);
		if (!ret) {
			memset(t.bits, 0, (size_t)(t.body_blocks * RESYNC_TRACK_BLOCK_BITS_BYTES));
			memset(t.hot, 0, (size_t)t.hot_bytes);
			memcpy(t.generation, gen, 16);
			t.flags = 0;
			t.recovered_regions = 0;
			if ((err = rc_track_write_new(&t, path, 0600)))
				ret = fail("%s: %s (%s)", path, t.error, strerror(-err));
		}
		rc_track_fini(&t);
		return ret;
	}
	close(fd);
	resync_bitmap *b = NULL;
	int ret = load(path, &b);
	if (!ret) {
		resync_bitmap_clear(b, 0, resync_bitmap_device_size(b));
		resync_bitmap_set_generation(b, gen);
		resync_bitmap_set_flags(b, RESYNC_BITMAP_F_CONSISTENT);
		ret = save_bitmap(b, path);
	}
	resync_bitmap_free(b);
	return ret;
}

/* rotate SOCKET GENERATION SNAPSHOT: one command to the filter's control
 * socket; its reply is printed, "ok" means success. */
int cmd_rotate(int argc, char **argv)
{
	if (argc != 4)
		return usage("rotate: expected SOCKET GENERATION-HEX32 SNAPSHOT");
	uint8_t gen[16];
	if (parse_hex_id(argv[2], gen))
		return usage("rotate: bad generation %s: 32 hex digits", argv[2]);
	char *dest = realpath(argv[3], NULL);
	if (!dest && errno == ENOENT) {
		/* The snapshot does not exist yet: resolve its directory. */
		char *slash = strrchr(argv[3], '/');
		char *dir =
			slash ? strndup(argv[3], (size_t)(slash - argv[3] + (slash == argv[3]))) :
				strdup(".");
		char *rdir = dir ? realpath(dir, NULL) : NULL;
		if (rdir && asprintf(&dest, "%s/%s", rdir, slash ? slash + 1 : argv[3]) < 0)
			dest = NULL;
		free(dir);
		free(rdir);
	}
	if (!dest)
		return fail("%s: %s", argv[3], strerror(errno));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int ret = EXIT_OK;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(argv[1]) >= sizeof a.sun_path)
		ret = fail("%s: path too long for a Unix socket", argv[1]);
	else {
		strcpy(a.sun_path, argv[1]);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a))
			ret = fail("%s: %s", argv[1], strerror(errno));
	}
	char *cmd = NULL;
	if (!ret && asprintf(&cmd, "rotate %s %s\n", argv[2], dest) < 0)
		ret = fail("out of memory");
	if (!ret && write(s, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		ret = fail("%s: %s", argv[1], strerror(errno));
	char reply[4400];
	size_t len = 0;
	while (!ret && len < sizeof reply - 1) {
		ssize_t n = read(s, reply + len, sizeof reply - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	reply[len] = 0;
	if (!ret && strcmp(reply, "ok\n"))
		ret = fail("%s: %s", argv[1], len ? strtok(reply, "\n") : "no reply");
	if (s >= 0)
		close(s);
	free(cmd);
	free(dest);
	return ret;
}

/* The tracking log's own state, for dump; nothing for a v1 bitmap. */
void track_dump_info(const char *path, json_object *root)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char magic[8] = { 0 };
	struct rc_track t;
	if (pread(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic ||
	    memcmp(magic, RESYNC_TRACK_MAGIC, sizeof magic) || rc_track_read(&t, fd)) {
		close(fd);
		return;
	}
	close(fd);
	uint64_t hot = 0;
	for (uint64_t r = 0; r < t.region_count; r++)
		hot += rc_track_test(t.hot, r);
	const char *state = t.flags & RESYNC_TRACK_F_OPEN ? "open" : "closed";
	if (root) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "recovered",
				       json_object_new_boolean(
					       !!(t.flags & RESYNC_TRACK_F_RECOVERED)));
		json_object_object_add(o, "recovered_regions",
				       json_object_new_int64((int64_t)t.recovered_regions));
		json_object_object_add(o, "hot_regions", json_object_new_int64((int64_t)hot));
		json_object_object_add(o, "region_size", json_object_new_int64(t.region_size));
		json_object_object_add(root, "track_log", o);
	} else {
		printf("track_log: %s%s hot_regions=%llu recovered_regions=%llu region_size=%u\n",
		       state, t.flags & RESYNC_TRACK_F_RECOVERED ? " recovered" : "",
		       (unsigned long long)hot, (unsigned long long)t.recovered_regions,
		       t.region_size);
	}
	rc_track_fini(&t);
}
