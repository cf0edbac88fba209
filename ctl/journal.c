/* SPDX-License-Identifier: MIT */
/* The event journal: see journal.h and doc/events.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include "journal.h"
#include "json_get.h"

#define SUFFIX ",\"Xxh64\":\"0123456789abcdef\"}"
#define SUFFIX_LEN (sizeof(SUFFIX) - 1)
#define PREFIX "{\"Id\":"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define SEG_NAME_LEN 26 /* 20 digits + ".jsonl" */

struct segs {
	uint64_t *first; /* ascending */
	size_t n;
};

/* A limit from the environment, else def. */
static uint64_t env_limit(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (!v || !*v)
		return def;
	x = strtoull(v, &end, 10);
	return *end || x == 0 ? def : (uint64_t)x;
}

/* events/, created when create is set and it is missing. */
static int open_events(struct ctl_store *s, bool create)
{
	int fd = ctl_open_dir(s->root, "events");

	if (fd == -ENOENT && create) {
		int err = ctl_mkdir(s->root, "events");
		if (err < 0 && err != -EEXIST)
			return err;
		fd = ctl_open_dir(s->root, "events");
	}
	return fd;
}

static void seg_name(uint64_t first, char name[SEG_NAME_LEN + 1])
{
	snprintf(name, SEG_NAME_LEN + 1, "%020" PRIu64 ".jsonl", first);
}

/* The first id of a segment's name, or 0 when name is no segment. */
static uint64_t seg_first(const char *name)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN || strcmp(name + 20, ".jsonl"))
		return 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int list_segs(int dfd, struct segs *sg)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	size_t cap = 0;

	sg->first = NULL;
	sg->n = 0;
	if (!d) {
		int err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		uint64_t f = seg_first(de->d_name);
		if (!f)
			continue;
		if (sg->n == cap) {
			uint64_t *nf = realloc(sg->first, (cap = cap * 2 + 16) * sizeof(*nf));
			if (!nf) {
				closedir(d);
				free(sg->first);
				sg->first = NULL;
				return -ENOMEM;
			}
			sg->first = nf;
		}
		sg->first[sg->n++] = f;
	}
	closedir(d);
	if (sg->n)
		qsort(sg->first, sg->n, sizeof(*sg->first), cmp_u64);
	return 0;
}

/* The id of a valid line buf[0..len) (no newline), or 0: its checksum
 * matches and it starts {"Id":N, with N a plain decimal. */
static uint64_t line_id(const char *buf, size_t len)
{
	char hex[17];
	uint64_t id = 0, sum;
	size_t i;

	if (len < PREFIX_LEN + 2 + SUFFIX_LEN || memcmp(buf, PREFIX, PREFIX_LEN) ||
	    memcmp(buf + len - SUFFIX_LEN, SUFFIX, 10) || memcmp(buf + len - 2, "\"}", 2))
		return 0;
	memcpy(hex, buf + len - SUFFIX_LEN + 10, 16);
	hex[16] = '\0';
	for (i = 0; i < 16; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	sum = strtoull(hex, NULL, 16);
	if (XXH64(buf, len - SUFFIX_LEN, 0) != sum)
		return 0;
	for (i = PREFIX_LEN; i < len && buf[i] >= '0' && buf[i] <= '9' && i < PREFIX_LEN + 20; i++)
		id = id * 10 + (uint64_t)(buf[i] - '0');
	return i > PREFIX_LEN && buf[i] == ',' ? id : 0;
}

/* A segment's bytes, read whole. */
static int read_seg(int fd, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf;
	size_t len = 0;

	*bufp = NULL;
	*lenp = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	char why[160];
	int err = ctl_trust_stat(&st, why, sizeof(why));
	if (err < 0)
		return err;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* Walks a segment's valid lines: each must be complete, pass line_id and
 * carry the next id after first - 1.  Returns the offset after the last
 * valid line; *last is its id (first - 1 when none).  fn (may be NULL) is
 * called for each valid line; a nonzero return stops the walk. */
static size_t walk_seg(const char *buf, size_t len, uint64_t first, uint64_t *last,
		       int (*fn)(void *arg, uint64_t id, const char *line, size_t n), void *arg)
{
	size_t off = 0;

	*last = first - 1;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n;
		if (!nl)
			break;
		n = (size_t)(nl - (buf + off));
		if (line_id(buf + off, n) != *last + 1)
			break;
		*last += 1;
		if (fn && fn(arg, *last, buf + off, n))
			return off + n + 1;
		off += n + 1;
	}
	return off;
}

/* Whether buf[end..len), what follows a segment's last valid line, is a
 * torn tail: nothing, or the one line an interrupted append left (appenders
 * hold events/lock, so there is at most one), cut short or failing its
 * checksum: at most one newline, as the last byte.  Anything more is a
 * damaged line with events after it; cutting there would drop those events
 * and give their ids to new ones. */
static bool torn_tail(const char *buf, size_t len, size_t end)
{
	const char *nl = end < len ? memchr(buf + end, '\n', len - end) : NULL;

	return !nl || nl == buf + len - 1;
}

static int open_seg(int dfd, uint64_t first, int flags)
{
	char name[SEG_NAME_LEN + 1];
	int fd;

	seg_name(first, name);
	fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, ctl_create_mode(0600));
	return fd < 0 ? -errno : fd;
}

/* The newest id of the newest segment in *last (0 when none). */
static int last_of(int dfd, const struct segs *sg, uint64_t *last)
{
	char *buf;
	size_t len;
	int fd, err;

	*last = 0;
	if (!sg->n)
		return 0;
	fd = open_seg(dfd, sg->first[sg->n - 1], O_RDONLY);
	if (fd < 0)
		return fd;
	err = read_seg(fd, &buf, &len);
	close(fd);
	if (err < 0)
		return err;
	walk_seg(buf, len, sg->first[sg->n - 1], last, NULL, NULL);
	free(buf);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* The event's line for id: its members after Id, Time and TimeEpochNs, then
 * the checksum of everything before it. */
static int format_line(json_object *event, uint64_t id, char **out, size_t *outlen)
{
	json_object *o = json_object_new_object();
	struct timespec ts;
	char t[32];
	const char *text;
	size_t n;
	int err = 0;

	if (!o)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	ctl_format_time((long long)ts.tv_sec, t);
	json_object_object_add(o, "Id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "Time", json_object_new_string(t));
	json_object_object_add(o, "TimeEpochNs",
			       json_object_new_int64((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec));
	json_object_object_foreach(event, k, v)
	{
		if (strcmp(k, "Id") && strcmp(k, "Time") && strcmp(k, "TimeEpochNs") &&
		    strcmp(k, "Xxh64"))
			json_object_object_add(o, k, json_object_get(v));
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	n = text ? strlen(text) : 0;
	if (!text) {
		err = -ENOMEM;
	} else if (n - 1 + SUFFIX_LEN + 1 > CTL_JOURNAL_LINE_MAX) {
		err = -E2BIG;
	} else if (!(*out = malloc(n - 1 + SUFFIX_LEN + 2))) {
		err = -ENOMEM;
	} else {
		memcpy(*out, text, n - 1);
		snprintf(*out + n - 1, SUFFIX_LEN + 2, ",\"Xxh64\":\"%016llx\"}\n",
			 (unsigned long long)XXH64(text, n - 1, 0));
		*outlen = n - 1 + SUFFIX_LEN + 1;
	}
	json_object_put(o);
	return err;
}

/* Removes the oldest segments beyond the retention, keeping the newest. */
static void retire(int dfd, const struct segs *sg, uint64_t keep)
{
	char name[SEG_NAME_LEN + 1];
	bool removed = false;

	for (size_t i = 0; i + keep < sg->n; i++) {
		seg_name(sg->first[i], name);
		if (unlinkat(dfd, name, 0) == 0)
			removed = true;
	}
	if (removed)
		fsync(dfd);
}

/* Under events/lock: the tail found and torn bytes cut, then the line;
 * -EBADMSG, nothing written, for a damaged line that is not the tail. */
static int append_locked(int dfd, json_object *event, uint64_t *idp)
{
	uint64_t seg_bytes = env_limit("RESYNC_JOURNAL_SEGMENT_BYTES", CTL_JOURNAL_SEGMENT_BYTES);
	uint64_t keep = env_limit("RESYNC_JOURNAL_SEGMENTS", CTL_JOURNAL_SEGMENTS);
	struct segs sg;
	uint64_t first, last;
	char *buf = NULL, *line = NULL;
	size_t len = 0, end, llen = 0;
	int fd = -1, err;

	err = list_segs(dfd, &sg);
	if (err < 0)
		return err;
	first = sg.n ? sg.first[sg.n - 1] : 1;
	fd = open_seg(dfd, first, O_RDWR | O_CREAT);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (!sg.n && fsync(dfd) < 0) {
		err = -errno;
		goto out;
	}
	err = read_seg(fd, &buf, &len);
	if (err < 0)
		goto out;
	end = walk_seg(buf, len, first, &last, NULL, NULL);
	if (!torn_tail(buf, len, end)) {
		err = -EBADMSG;
		goto out;
	}
	if (end < len && (ftruncate(fd, (off_t)end) < 0 || fdatasync(fd) < 0)) {
		err = -errno;
		goto out;
	}
	err = format_line(event, last + 1, &line, &llen);
	if (err < 0)
		goto out;
	if (end && end + llen > seg_bytes) {
		/* A new segment named by the id it starts with; the old one
		 * stays whole and closed. */
		close(fd);
		fd = open_seg(dfd, last + 1, O_RDWR | O_CREAT | O_EXCL);
		if (fd < 0 || fsync(dfd) < 0) {
			err = fd < 0 ? fd : -errno;
			goto out;
		}
		end = 0;
		uint64_t *nf = realloc(sg.first, (sg.n + 1) * sizeof(*nf));
		if (nf) {
			sg.first = nf;
			sg.first[sg.n++] = last + 1;
			retire(dfd, &sg, keep);
		}
	}
	err = write_all(fd, line, llen, (off_t)end);
	if (!err && fdatasync(fd) < 0)
		err = -errno;
	if (err < 0) {
		/* Nothing half written is left for the next appender to cut. */
		if (ftruncate(fd, (off_t)end) == 0)
			fdatasync(fd);
		goto out;
	}
	if (idp)
		*idp = last + 1;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(buf);
	free(sg.first);
	return err;
}

int ctl_journal_append(struct ctl_store *s, json_object *event, uint64_t *id)
{
	int dfd, lfd = -1, err;

	if (!json_object_is_type(event, json_type_object) || !ctl_json_str(event, "Kind"))
		return -EINVAL;
	dfd = open_events(s, true);
	if (dfd < 0)
		return dfd;
	err = ctl_lock(dfd, "lock", true, &lfd);
	if (!err)
		err = append_locked(dfd, event, id);
	if (lfd >= 0)
		close(lfd);
	close(dfd);
	return err;
}

const char *ctl_journal_strerror(int err)
{
	if (err == -EBADMSG)
		return "the event journal has a damaged line with events after it, left as it "
		       "is (see doc/events.md to repair it)";
	return strerror(-err);
}

int ctl_journal_last(struct ctl_store *s, uint64_t *last)
{
	struct segs sg;
	int dfd = open_events(s, false), err;

	*last = 0;
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	err = list_segs(dfd, &sg);
	if (!err)
		err = last_of(dfd, &sg, last);
	free(sg.first);
	close(dfd);
	return err;
}

/* 0.2.0 wrote a job event's id as "Job": readers see one key, "JobId"
 * (the line's checksum was verified before). */
static void upgrade_job_key(json_object *ev)
{
	json_object *v;

	if (json_object_object_get_ex(ev, "Job", &v) && json_object_is_type(v, json_type_string) &&
	    !json_object_object_get_ex(ev, "JobId", NULL)) {
		json_object_object_add(ev, "JobId", json_object_get(v));
		json_object_object_del(ev, "Job");
	}
}

struct collect {
	uint64_t after;
	size_t max;
	json_object *arr;
	int err;
};

static int collect_line(void *arg, uint64_t id, const char *line, size_t n)
{
	struct collect *c = arg;
	json_tokener *tok;
	json_object *o;

	if (id <= c->after)
		return 0;
	tok = json_tokener_new();
	if (!tok) {
		c->err = -ENOMEM;
		return 1;
	}
	o = json_tokener_parse_ex(tok, line, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		json_tokener_free(tok);
		c->err = -EBADMSG;
		return 1;
	}
	json_tokener_free(tok);
	json_object_object_del(o, "Xxh64");
	upgrade_job_key(o);
	json_object_array_add(c->arr, o);
	return json_object_array_length(c->arr) >= c->max;
}

/* One pass of ctl_journal_read; -ESTALE when a segment went while reading. */
static int read_pass(int dfd, uint64_t after, size_t max, json_object **events, uint64_t *oldest)
{
	struct collect c = { after, max, NULL, 0 };
	struct segs sg;
	uint64_t last = 0;
	size_t i = 0;
	int err = list_segs(dfd, &sg);

	if (err < 0)
		return err;
	err = last_of(dfd, &sg, &last);
	if (err == -ENOENT)
		err = -ESTALE;
	if (err < 0)
		goto out;
	*oldest = sg.n ? sg.first[0] : 1;
	if (after && (after + 1 < *oldest || after > last)) {
		err = -ERANGE;
		goto out;
	}
	c.arr = json_object_new_array();
	if (!c.arr) {
		err = -ENOMEM;
		goto out;
	}
	/* The segment holding after + 1: the last one starting at or before it. */
	while (i + 1 < sg.n && sg.first[i + 1] <= after + 1)
		i++;
	for (; i < sg.n && json_object_array_length(c.arr) < max && !c.err; i++) {
		char *buf;
		size_t len;
		uint64_t l;
		int fd = open_seg(dfd, sg.first[i], O_RDONLY);
		if (fd < 0) {
			err = fd == -ENOENT ? -ESTALE : fd;
			goto out;
		}
		err = read_seg(fd, &buf, &len);
		close(fd);
		if (err < 0)
			goto out;
		size_t end = walk_seg(buf, len, sg.first[i], &l, collect_line, &c);
		/* A walk that stopped short of max stopped at the damage. */
		if (!c.err && json_object_array_length(c.arr) < max && !torn_tail(buf, len, end))
			c.err = -EBADMSG;
		free(buf);
	}
	err = c.err;
out:
	free(sg.first);
	if (err < 0) {
		json_object_put(c.arr);
		return err;
	}
	*events = c.arr;
	return (int)json_object_array_length(c.arr);
}

int ctl_journal_read(struct ctl_store *s, uint64_t after_id, size_t max, json_object **events,
		     uint64_t *oldest)
{
	int dfd = open_events(s, false), err = -ESTALE;

	*events = NULL;
	*oldest = 1;
	if (dfd == -ENOENT) {
		if (after_id)
			return -ERANGE;
		*events = json_object_new_array();
		return *events ? 0 : -ENOMEM;
	}
	if (dfd < 0)
		return dfd;
	/* Retention may remove a segment between listing and opening it:
	 * list again, and the oldest kept then says whether anything is lost. */
	for (int i = 0; i < 100 && err == -ESTALE; i++)
		err = read_pass(dfd, after_id, max ? max : 1, events, oldest);
	close(dfd);
	return err;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_journal_wait(struct ctl_store *s, uint64_t after_id, int timeout_ms)
{
	char path[64], ev[4096];
	long long deadline = mono_ms() + timeout_ms;
	uint64_t last;
	int ifd, dfd, err;

	dfd = open_events(s, true);
	if (dfd < 0)
		return dfd;
	/* The folder opened (O_NOFOLLOW, trusted), not a path that could
	 * have changed since: its /proc/self/fd link. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dfd);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		err = -errno;
		close(dfd);
		return err;
	}
	err = inotify_add_watch(ifd, path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	err = err < 0 ? -errno : 0;
	close(dfd);
	if (err < 0)
		goto out;
	/* Checked after the watch is set, so an append in between still wakes. */
	for (;;) {
		struct pollfd p = { ifd, POLLIN, 0 };
		long long left = timeout_ms < 0 ? -1 : deadline - mono_ms();
		int n;
		err = ctl_journal_last(s, &last);
		if (err < 0)
			goto out;
		if (last > after_id) {
			err = 1;
			goto out;
		}
		if (timeout_ms >= 0 && left <= 0) {
			err = 0;
			goto out;
		}
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		while (read(ifd, ev, sizeof(ev)) > 0)
			;
	}
out:
	close(ifd);
	return err;
}

/* What an event says about a record: its watched members, absent ones left out. */
static json_object *snapshot(json_object *rec, const char *const *keys)
{
	json_object *o = json_object_new_object(), *v;

	for (size_t i = 0; keys[i]; i++)
		if (json_object_object_get_ex(rec, keys[i], &v))
			json_object_object_add(o, keys[i], json_object_get(v));
	return o;
}

static int journal_change(struct ctl_store *s, json_object *old, json_object *cur,
			  const char *const *keys, const char *const kinds[3], const char *vm,
			  const char *job, uint64_t *id)
{
	json_object *rec = cur ? cur : old, *changed, *ev;
	const char *kind = !old ? kinds[0] : !cur ? kinds[2] : kinds[1];
	int err;

	if (id)
		*id = 0;
	if (!old && !cur)
		return 0;
	changed = json_object_new_array();
	for (size_t i = 0; cur && keys[i]; i++) {
		json_object *a = NULL, *b = NULL;
		json_object_object_get_ex(old, keys[i], &a);
		json_object_object_get_ex(cur, keys[i], &b);
		if (!old || !json_object_equal(a, b))
			json_object_array_add(changed, json_object_new_string(keys[i]));
	}
	if (old && cur && !json_object_array_length(changed)) {
		json_object_put(changed);
		return 0;
	}
	/* FailedOverTo naming a new point is the failover itself. */
	if (old && cur && !strcmp(kinds[1], "VmChanged")) {
		const char *a = ctl_json_str(old, "FailedOverTo") ?: "";
		const char *b = ctl_json_str(cur, "FailedOverTo") ?: "";
		if (*b && strcmp(a, b))
			kind = "Failover";
	}
	ev = json_object_new_object();
	json_object_object_add(ev, "Kind", json_object_new_string(kind));
	json_object_object_add(ev, "VirtualSystem", json_object_new_string(vm ?: ""));
	if (job && *job)
		json_object_object_add(ev, "JobId", json_object_new_string(job));
	json_object_object_add(ev, "Changed", changed);
	json_object_object_add(ev, "Properties", snapshot(rec, keys));
	err = ctl_journal_append(s, ev, id);
	json_object_put(ev);
	return err;
}

int ctl_journal_job(struct ctl_store *s, json_object *old, json_object *cur, uint64_t *id)
{
	static const char *const keys[] = { "JobState", "PercentComplete", "ErrorCode", NULL };
	static const char *const kinds[3] = { "JobCreated", "JobChanged", "JobRemoved" };
	json_object *rec = cur ? cur : old;

	return journal_change(s, old, cur, keys, kinds, ctl_json_str(rec, "VirtualSystem"),
			      ctl_json_str(rec, "InstanceID"), id);
}

int ctl_journal_vm(struct ctl_store *s, json_object *old, json_object *cur, uint64_t *id)
{
	static const char *const keys[] = { "ReplicationState", "ReplicationHealth", "FailedOverTo",
					    NULL };
	static const char *const kinds[3] = { "VmAdded", "VmChanged", "VmRemoved" };
	json_object *rec = cur ? cur : old;

	return journal_change(s, old, cur, keys, kinds, ctl_json_str(rec, "Name"),
			      ctl_json_str(rec, "CurrentJob"), id);
}
