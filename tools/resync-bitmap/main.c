/* SPDX-License-Identifier: MIT */
/*
 * resync-bitmap: build, inspect and capture change bitmaps
 * (uapi/resync/change_bitmap.h).
 *
 *   resync-bitmap create --size BYTES --granularity G [--extents FILE]
 *                        [--generation HEX32] [--disk-id HEX32] [--consistent] OUT
 *   resync-bitmap dump FILE [--json]
 *   resync-bitmap nbd-extents URI NAME
 *   resync-bitmap from-nbd URI NAME OUT [--granularity G] [--generation HEX32]
 *                        [--disk-id HEX32] [--consistent]
 *   resync-bitmap merge OUT IN...
 *   resync-bitmap reset FILE GENERATION [--force]
 *   resync-bitmap rotate SOCKET GENERATION SNAPSHOT
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resync/resync.h"
#include "guid.h"
#include "parse_size.h"
#include "resync/change_bitmap.h"
#include "cli.h"

#define DEFAULT_GRANULARITY (64u << 10)

static const char usage_text[] =
	"usage: resync-bitmap create --size BYTES --granularity G [--extents FILE]\n"
	"                            [--generation HEX32] [--disk-id HEX32] [--consistent] OUT\n"
	"       resync-bitmap dump FILE [--json]\n"
	"       resync-bitmap nbd-extents URI NAME\n"
	"       resync-bitmap from-nbd URI NAME OUT [--granularity G] [--generation HEX32]\n"
	"                            [--disk-id HEX32] [--consistent]\n"
	"       resync-bitmap merge OUT IN...\n"
	"       resync-bitmap reset FILE GENERATION [--force]\n"
	"       resync-bitmap rotate SOCKET GENERATION SNAPSHOT\n"
	"       resync-bitmap --version | --long-options | --short-options\n"
	"  BYTES and G: decimal (leading zeros too) or 0x hex, optional K, M, G, T suffix\n"
	"  (powers of 1024, also KB, KiB); an extents FILE holds \"offset length\" lines\n"
	"  in the same numbers, '#' starts a comment; NAME is a qemu dirty bitmap\n"
	"  (context qemu:dirty-bitmap:NAME); TLS settings go in the URI\n"
	"  (nbds://USER@host/export?tls-psk-file=FILE or ?tls-certificates=DIR).\n"
	"  FILE and IN may be change bitmaps or tracking logs (doc/track-log.md);\n"
	"  SOCKET is a running nbdkit-resync-track-filter's control=PATH.\n";

int usage(const char *fmt, ...)
{
	if (fmt) {
		va_list ap;
		fputs("resync-bitmap: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

int fail(const char *fmt, ...)
{
	va_list ap;
	fputs("resync-bitmap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_RUNTIME;
}

int parse_granularity(const char *s, uint32_t *out)
{
	uint64_t g;
	if (rc_parse_size(s, &g) || g < RESYNC_BITMAP_MIN_GRANULARITY ||
	    g > RESYNC_BITMAP_MAX_GRANULARITY || (g & (g - 1)))
		return -EINVAL;
	*out = (uint32_t)g;
	return 0;
}

/* Options shared by create and from-nbd: what goes into the header. */
struct header_opts {
	uint64_t size;
	int have_size;
	uint32_t granularity;
	int have_granularity;
	uint8_t generation[16];
	int have_generation;
	uint8_t disk_id[16];
	int have_disk_id;
	int consistent;
	const char *extents;
	int json;
};

/* Long options only; the letters just name them in the allowed lists. */
enum {
	OPT_SIZE = 's',
	OPT_GRANULARITY = 'g',
	OPT_EXTENTS = 'e',
	OPT_GENERATION = 'G',
	OPT_DISK_ID = 'd',
	OPT_CONSISTENT = 'c',
	OPT_JSON = 'j',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_LONG_OPTIONS = 'L',
	OPT_SHORT_OPTIONS = 'S'
};

static const struct option long_opts[] = {
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "granularity", required_argument, NULL, OPT_GRANULARITY },
	{ "extents", required_argument, NULL, OPT_EXTENTS },
	{ "generation", required_argument, NULL, OPT_GENERATION },
	{ "disk-id", required_argument, NULL, OPT_DISK_ID },
	{ "consistent", no_argument, NULL, OPT_CONSISTENT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "long-options", no_argument, NULL, OPT_LONG_OPTIONS },
	{ "short-options", no_argument, NULL, OPT_SHORT_OPTIONS },
	{ 0 }
};

/* --version, --long-options, --short-options (the bash completion reads
 * the last two), anywhere on the line: nonzero when opt was one of them,
 * after printing. */
static int info_option(int opt)
{
	if (opt == OPT_VERSION)
		printf("resync-bitmap %s\nlib%s\n", RESYNC_PACKAGE_VERSION, resync_version());
	else if (opt == OPT_LONG_OPTIONS)
		for (const struct option *o = long_opts; o->name; o++)
			printf("--%s\n", o->name);
	else if (opt == OPT_SHORT_OPTIONS)
		puts("-h");
	else
		return 0;
	return 1;
}

/* Parses argv[1..] of a command, allowing only the options in allowed
 * (a string of OPT_* values); returns -1 after printing help, 0, or
 * EXIT_USAGE. Positional arguments end up in argv[optind..argc). */
static int parse_opts(int argc, char **argv, const char *allowed, struct header_opts *o)
{
	int c, err;
	opterr = 0;
	/* 0 makes GNU getopt start afresh and permute: options may follow
	 * the positional arguments, which end up at argv[optind..]. */
	optind = 0;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		if (c == '?')
			return usage("%s: unknown option %s", argv[0], argv[optind - 1]);
		if (c == ':')
			return usage("%s: %s needs a value", argv[0], argv[optind - 1]);
		if (c == OPT_HELP) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (info_option(c))
			return -1;
		if (!strchr(allowed, c))
			return usage("%s: option %s does not apply", argv[0], argv[optind - 1]);
		switch (c) {
		case OPT_SIZE:
			if ((err = rc_parse_size(optarg, &o->size)))
				return usage(
					"bad --size %s: %s", optarg,
					err == -ERANGE ?
						"larger than 2^64 - 1" :
						"decimal or 0x hex, optional K, M, G, T suffix");
			o->have_size = 1;
			break;
		case OPT_GRANULARITY:
			if (parse_granularity(optarg, &o->granularity))
				return usage("bad --granularity %s: a power of two in 512 .. 1G",
					     optarg);
			o->have_granularity = 1;
			break;
		case OPT_EXTENTS:
			o->extents = optarg;
			break;
		case OPT_GENERATION:
			if (rc_guid_parse(optarg, o->generation))
				return usage("bad --generation %s: 32 hex digits or a dashed GUID",
					     optarg);
			o->have_generation = 1;
			break;
		case OPT_DISK_ID:
			if (rc_guid_parse(optarg, o->disk_id))
				return usage("bad --disk-id %s: 32 hex digits or a dashed GUID",
					     optarg);
			o->have_disk_id = 1;
			break;
		case OPT_CONSISTENT:
			o->consistent = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		}
	}
	return 0;
}

static int apply_header(resync_bitmap *b, const struct header_opts *o)
{
	if (o->have_generation)
		resync_bitmap_set_generation(b, o->generation);
	if (o->have_disk_id)
		resync_bitmap_set_disk_id(b, o->disk_id);
	if (o->consistent)
		return resync_bitmap_set_flags(b, RESYNC_BITMAP_F_CONSISTENT);
	return 0;
}

struct marking {
	resync_bitmap *b;
	const char *path;
	const unsigned *lineno;
	int reported;
};

static int mark_one(void *arg, uint64_t off, uint64_t len)
{
	struct marking *m = arg;
	int err = resync_bitmap_mark(m->b, off, len);
	if (err)
		m->reported = fail("%s line %u: extent %llu+%llu: %s", m->path, *m->lineno,
				   (unsigned long long)off, (unsigned long long)len,
				   err == -ERANGE ? "past the end of the disk" : strerror(-err));
	return err;
}

static int mark_extents_file(resync_bitmap *b, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		return fail("%s: %s", path, strerror(errno));
	unsigned lineno;
	const char *why = "";
	struct marking m = { b, path, &lineno, EXIT_OK };
	int err = rc_read_extent_list(f, mark_one, &m, &lineno, &why);
	if (f != stdin)
		fclose(f);
	if (!err || m.reported)
		return m.reported;
	if (err == -EIO || err == -ENOMEM)
		return fail("%s: %s", path, why);
	return fail("%s line %u: %s", path, lineno, why);
}

int save_bitmap(resync_bitmap *b, const char *out)
{
	int err = resync_bitmap_save(b, out);
	if (err)
		return fail("%s: resync_bitmap_save: %s", out, strerror(-err));
	return EXIT_OK;
}

static int cmd_create(int argc, char **argv)
{
	struct header_opts o = { 0 };
	int ret = parse_opts(argc, argv, "sgeGdc", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (argc - optind != 1)
		return usage("create: expected one output file");
	if (!o.have_size || !o.have_granularity)
		return usage("create: --size and --granularity are required");
	resync_bitmap *b;
	int err = resync_bitmap_new(&b, o.size, o.granularity);
	if (err == -EOVERFLOW)
		return usage("create: --size %llu at --granularity %u is more than a bitmap holds "
			     "(2^35 blocks): use a coarser granularity",
			     (unsigned long long)o.size, o.granularity);
	if (err)
		return fail("resync_bitmap_new: %s", strerror(-err));
	if ((err = apply_header(b, &o)))
		ret = fail("resync_bitmap_set_flags: %s", strerror(-err));
	if (!ret && o.extents)
		ret = mark_extents_file(b, o.extents);
	if (!ret)
		ret = save_bitmap(b, argv[optind]);
	resync_bitmap_free(b);
	return ret;
}

static int dump_text(resync_bitmap *b)
{
	uint8_t id[16];
	char hex[RC_GUID_HEX_LEN];
	uint64_t flags = resync_bitmap_flags(b);
	printf("device_size: %llu\n", (unsigned long long)resync_bitmap_device_size(b));
	printf("granularity: %u\n", resync_bitmap_granularity(b));
	printf("flags:%s%s%s\n", flags & RESYNC_BITMAP_F_CONSISTENT ? " consistent" : "",
	       flags & RESYNC_BITMAP_F_CHECKPOINT ? " checkpoint" : "", flags ? "" : " none");
	resync_bitmap_get_generation(b, id);
	rc_guid_hex(id, hex);
	printf("generation: %s\n", hex);
	resync_bitmap_get_disk_id(b, id);
	rc_guid_hex(id, hex);
	printf("disk_id: %s\n", hex);
	printf("dirty_bytes: %llu\n", (unsigned long long)resync_bitmap_dirty_bytes(b));
	printf("extents:\n");
	uint64_t off = 0, len;
	while (resync_bitmap_next(b, &off, &len) == 1) {
		printf("%llu %llu\n", (unsigned long long)off, (unsigned long long)len);
		off += len;
	}
	return EXIT_OK;
}

static int dump_json(resync_bitmap *b, const char *path)
{
	uint8_t id[16];
	char hex[RC_GUID_HEX_LEN];
	uint64_t flags = resync_bitmap_flags(b);
	json_object *root = json_object_new_object(), *fl = json_object_new_array(),
		    *ext = json_object_new_array();
	json_object_object_add(root, "device_size",
			       json_object_new_int64((int64_t)resync_bitmap_device_size(b)));
	json_object_object_add(root, "granularity",
			       json_object_new_int64(resync_bitmap_granularity(b)));
	if (flags & RESYNC_BITMAP_F_CONSISTENT)
		json_object_array_add(fl, json_object_new_string("consistent"));
	if (flags & RESYNC_BITMAP_F_CHECKPOINT)
		json_object_array_add(fl, json_object_new_string("checkpoint"));
	json_object_object_add(root, "flags", fl);
	resync_bitmap_get_generation(b, id);
	rc_guid_hex(id, hex);
	json_object_object_add(root, "generation", json_object_new_string(hex));
	resync_bitmap_get_disk_id(b, id);
	rc_guid_hex(id, hex);
	json_object_object_add(root, "disk_id", json_object_new_string(hex));
	json_object_object_add(root, "dirty_bytes",
			       json_object_new_int64((int64_t)resync_bitmap_dirty_bytes(b)));
	uint64_t off = 0, len;
	while (resync_bitmap_next(b, &off, &len) == 1) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "offset", json_object_new_int64((int64_t)off));
		json_object_object_add(e, "length", json_object_new_int64((int64_t)len));
		json_object_array_add(ext, e);
		off += len;
	}
	json_object_object_add(root, "extents", ext);
	track_dump_info(path, root);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return EXIT_OK;
}

static int cmd_dump(int argc, char **argv)
{
	struct header_opts o = { 0 };
	int ret = parse_opts(argc, argv, "j", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (argc - optind != 1)
		return usage("dump: expected one bitmap file");
	const char *path = argv[optind];
	resync_bitmap *b;
	int err = resync_bitmap_load(&b, path);
	if (err) {
		const char *why = resync_bitmap_load_error();
		return *why ? fail("%s: %s (%s)", path, why, strerror(-err)) :
			      fail("%s: %s", path, strerror(-err));
	}
	if (!o.json)
		track_dump_info(path, NULL);
	ret = o.json ? dump_json(b, path) : dump_text(b);
	resync_bitmap_free(b);
	if (fflush(stdout))
		return fail("stdout: %s", strerror(errno));
	return ret;
}

static int cmd_nbd_extents(int argc, char **argv)
{
	struct header_opts o = { 0 };
	int ret = parse_opts(argc, argv, "", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (argc - optind != 2)
		return usage("nbd-extents: expected URI and bitmap NAME");
	return nbd_print_extents(argv[optind], argv[optind + 1]);
}

static int cmd_from_nbd(int argc, char **argv)
{
	struct header_opts o = { 0 };
	int ret = parse_opts(argc, argv, "gGdc", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (argc - optind != 3)
		return usage("from-nbd: expected URI, bitmap NAME and output file");
	resync_bitmap *b = NULL;
	ret = nbd_capture(argv[optind], argv[optind + 1],
			  o.have_granularity ? o.granularity : DEFAULT_GRANULARITY, &b);
	if (!ret) {
		int err = apply_header(b, &o);
		ret = err ? fail("resync_bitmap_set_flags: %s", strerror(-err)) :
			    save_bitmap(b, argv[optind + 2]);
	}
	resync_bitmap_free(b);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "create", cmd_create },
		{ "dump", cmd_dump },
		{ "nbd-extents", cmd_nbd_extents },
		{ "from-nbd", cmd_from_nbd },
		{ "merge", cmd_merge },
		{ "reset", cmd_reset },
		{ "rotate", cmd_rotate },
	};
	if (argc < 2)
		return usage(NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (const struct option *o = long_opts; o->name; o++)
		if (!strncmp(argv[1], "--", 2) && !strcmp(argv[1] + 2, o->name) &&
		    info_option(o->val))
			return EXIT_OK;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	return usage("unknown command %s", argv[1]);
}
