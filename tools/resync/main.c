/* SPDX-License-Identifier: MIT */
/*
 * resync: copy, compare or verify two endpoints (files, block devices, NBD
 * URIs) with libresync, or write one disk's digest stream (resync digest)
 * for a digest compare at the far end of a link.  Exit status: 0 done (or
 * equal), 1 runtime or I/O error, 2 usage error, 3 differences found, 4
 * interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <resync/resync.h>
#include "output.h"
#include "parse_size.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_DIFFER = 3, EXIT_INTERRUPTED = 4 };
/* --verify=sample: the library's defaults, the same as resyncctl's. */
enum { SAMPLE_PER_GIB = 16, SAMPLE_MIN = 256 };

static resync *running;

static void on_signal(int sig)
{
	if (running)
		resync_cancel(running);
}

static void usage(FILE *f)
{
	fputs("usage: resync copy SRC DST [--full | --compare | --bitmap FILE | --extents FILE |\n"
	      "                           --nbd-dirty NAME] [options]\n"
	      "       resync compare SRC DST [options]   count the bytes that differ\n"
	      "       resync verify SRC DST [options]    stop at the first difference\n"
	      "       resync digest SRC [options] > STREAM  SRC's per-block digests, for\n"
	      "                                          --digest-from at the far end\n"
	      "SRC and DST: a regular file, a block device, or an NBD URI (nbd://host[:port]/export,\n"
	      "nbds://, nbd+unix:///export?socket=PATH, nbds+unix://, nbd+vsock://CID/export,\n"
	      "nbds+vsock://).\n"
	      "options:\n"
	      "  --checkpoint FILE         persist progress to FILE; rerun to resume after a crash\n"
	      "  --checkpoint-interval MS  at most this long between checkpoints (default 5000)\n"
	      "  --checkpoint-bytes N      and at most this many bytes copied between them\n"
	      "  --verify[=WHAT]           after copying, re-read both sides: sample (the default:\n"
	      "                            the blocks the mode named plus a random sample of the\n"
	      "                            others: catches a change record that missed a change),\n"
	      "                            planned (only the named blocks), full (every block);\n"
	      "                            ranges both sides hold as holes are not read\n"
	      "  --rate BYTES              limit reading to BYTES per second\n"
	      "  --queue-depth N           requests in flight (default: from the devices)\n"
	      "  --request-size N          bytes per request (default: from the devices)\n"
	      "  --block-size N            compare and checkpoint unit (default 64K)\n"
	      "  --digest-from CMD         compare by digests: run CMD (sh -c) and read the\n"
	      "                            stream of `resync digest` from its stdout, e.g.\n"
	      "                            'ssh far resync digest /dev/vg/rp'; only blocks\n"
	      "                            whose digests differ are read from SRC\n"
	      "  --digest-hash H           blake2b (the default) or xxh3 (trusted links only);\n"
	      "                            both sides must name the same\n"
	      "  --no-direct               do not use O_DIRECT\n"
	      "  --write-mode M            auto (O_DIRECT where the target takes it), direct,\n"
	      "                            or buffered (bounded by sync_file_range writeback)\n"
	      "  --no-zero-detect          write zero blocks as data\n"
	      "  --allow-trim              zeroing may deallocate (punch holes, unmap, NBD trim);\n"
	      "                            without it the target keeps its allocation\n"
	      "  --connections N           NBD connections when the server allows (default 4)\n"
	      "  --tls-certs DIR | --tls-psk FILE [--tls-username NAME]   NBD TLS\n"
	      "  --progress                progress bar (default on a terminal)\n"
	      "  --json                    JSON progress lines and a JSON result on stdout\n"
	      "  --progress-interval MS    how often progress is shown (default 200, JSON 1000)\n"
	      "  --stats                   print the result figures as JSON at the end\n"
	      "  -v, --verbose             say how the endpoints are accessed\n"
	      "  --version                 resync's and libresync's versions\n"
	      "numbers: decimal (leading zeros too) or 0x hex, optional K, M, G, T suffix\n"
	      "(powers of 1024, also KB, KiB); extent files use the same numbers\n"
	      "exit status: 0 done or equal, 1 error, 2 usage, 3 differences found, 4 interrupted\n",
	      f);
}

enum {
	OPT_FULL = 256,
	OPT_COMPARE,
	OPT_BITMAP,
	OPT_EXTENTS,
	OPT_NBD_DIRTY,
	OPT_CHECKPOINT,
	OPT_CKPT_MS,
	OPT_CKPT_BYTES,
	OPT_VERIFY,
	OPT_RATE,
	OPT_DEPTH,
	OPT_REQUEST,
	OPT_BLOCK,
	OPT_NO_DIRECT,
	OPT_NO_ZERO,
	OPT_TRIM,
	OPT_CONNS,
	OPT_TLS_CERTS,
	OPT_TLS_PSK,
	OPT_TLS_USER,
	OPT_PROGRESS,
	OPT_JSON,
	OPT_STATS,
	OPT_HELP,
	OPT_PROGRESS_MS,
	OPT_VERSION,
	OPT_DIGEST_FROM,
	OPT_DIGEST_HASH,
	OPT_WRITE_MODE,
	OPT_LONG_OPTIONS,
	OPT_SHORT_OPTIONS
};

static const char short_options[] = "hv";

static const struct option options[] = {
	{ "full", no_argument, NULL, OPT_FULL },
	{ "compare", no_argument, NULL, OPT_COMPARE },
	{ "bitmap", required_argument, NULL, OPT_BITMAP },
	{ "extents", required_argument, NULL, OPT_EXTENTS },
	{ "nbd-dirty", required_argument, NULL, OPT_NBD_DIRTY },
	{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
	{ "checkpoint-interval", required_argument, NULL, OPT_CKPT_MS },
	{ "checkpoint-bytes", required_argument, NULL, OPT_CKPT_BYTES },
	{ "verify", optional_argument, NULL, OPT_VERIFY },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "queue-depth", required_argument, NULL, OPT_DEPTH },
	{ "request-size", required_argument, NULL, OPT_REQUEST },
	{ "block-size", required_argument, NULL, OPT_BLOCK },
	{ "no-direct", no_argument, NULL, OPT_NO_DIRECT },
	{ "no-zero-detect", no_argument, NULL, OPT_NO_ZERO },
	{ "allow-trim", no_argument, NULL, OPT_TRIM },
	{ "connections", required_argument, NULL, OPT_CONNS },
	{ "tls-certs", required_argument, NULL, OPT_TLS_CERTS },
	{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
	{ "tls-username", required_argument, NULL, OPT_TLS_USER },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "progress-interval", required_argument, NULL, OPT_PROGRESS_MS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "digest-from", required_argument, NULL, OPT_DIGEST_FROM },
	{ "digest-hash", required_argument, NULL, OPT_DIGEST_HASH },
	{ "write-mode", required_argument, NULL, OPT_WRITE_MODE },
	{ "long-options", no_argument, NULL, OPT_LONG_OPTIONS },
	{ "short-options", no_argument, NULL, OPT_SHORT_OPTIONS },
	{ NULL, 0, NULL, 0 },
};

/* --version, --long-options, --short-options (the bash completion reads
 * the last two): true when opt was one of them, after printing. */
static bool info_option(int opt)
{
	if (opt == OPT_VERSION)
		printf("resync %s\nlib%s\n", RESYNC_PACKAGE_VERSION, resync_version());
	else if (opt == OPT_LONG_OPTIONS)
		for (const struct option *o = options; o->name; o++)
			printf("--%s\n", o->name);
	else if (opt == OPT_SHORT_OPTIONS)
		for (const char *p = short_options; *p; p++)
			printf("-%c\n", *p);
	else
		return false;
	return true;
}

struct cli {
	const char *command;
	enum resync_mode mode;
	const char *mode_arg;
	int modes_given;
	uint64_t flags;
	enum resync_verify verify;
	const char *checkpoint;
	uint64_t ckpt_ms, ckpt_bytes;
	uint64_t rate, depth, request, block, conns;
	const char *tls_certs, *tls_psk, *tls_user;
	const char *digest_from;
	enum resync_digest_hash digest_hash; /* 0: not given */
	enum resync_write_mode write_mode;
	struct output out;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "resync: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'resync --help'.\n");
	return EXIT_USAGE;
}

static int number(const char *name, const char *arg, uint64_t *out)
{
	int ret = rc_parse_size(arg, out);
	if (!ret)
		return 0;
	if (ret == -ERANGE)
		fprintf(stderr, "resync: --%s %s is larger than 2^64 - 1\n", name, arg);
	else
		fprintf(stderr,
			"resync: --%s needs a number (decimal or 0x hex; K, M, G, T "
			"suffixes allowed), not '%s'\n",
			name, arg);
	return -1;
}

/* A count that must be given as at least 1 (0 means "not given" inside). */
static int positive(const char *name, const char *arg, uint64_t *out)
{
	if (number(name, arg, out))
		return -1;
	if (*out)
		return 0;
	fprintf(stderr, "resync: --%s must be at least 1\n", name);
	return -1;
}

/* --verify alone is the sample: after a delta copy, what it wrote plus a
 * sample of the rest; after --full or --compare, which name every block, the
 * whole disk.  Only --verify=full re-reads the whole disk after a delta. */
static int verify_what(const char *arg, enum resync_verify *out)
{
	if (!arg || !strcmp(arg, "sample"))
		*out = RESYNC_VERIFY_SAMPLE;
	else if (!strcmp(arg, "planned"))
		*out = RESYNC_VERIFY_PLANNED;
	else if (!strcmp(arg, "full"))
		*out = RESYNC_VERIFY_FULL;
	else {
		fprintf(stderr, "resync: --verify takes planned, sample or full, not '%s'\n", arg);
		return -1;
	}
	return 0;
}

static int parse(struct cli *c, int argc, char **argv)
{
	int opt, idx = 0;
	c->mode = RESYNC_FULL;
	c->ckpt_ms = 5000;
	while ((opt = getopt_long(argc, argv, short_options, options, &idx)) != -1) {
		const char *name = options[idx].name;
		switch (opt) {
		case OPT_FULL:
			c->mode = RESYNC_FULL;
			c->modes_given++;
			break;
		case OPT_COMPARE:
			c->mode = RESYNC_COMPARE;
			c->modes_given++;
			break;
		case OPT_BITMAP:
			c->mode = RESYNC_BITMAP;
			c->mode_arg = optarg;
			c->modes_given++;
			break;
		case OPT_EXTENTS:
			c->mode = RESYNC_EXTENTS;
			c->mode_arg = optarg;
			c->modes_given++;
			break;
		case OPT_NBD_DIRTY:
			c->mode = RESYNC_NBD_DIRTY;
			c->mode_arg = optarg;
			c->modes_given++;
			break;
		case OPT_CHECKPOINT:
			c->checkpoint = optarg;
			break;
		case OPT_CKPT_MS:
			if (number(name, optarg, &c->ckpt_ms))
				return -1;
			break;
		case OPT_CKPT_BYTES:
			if (number(name, optarg, &c->ckpt_bytes))
				return -1;
			break;
		case OPT_VERIFY:
			if (verify_what(optarg, &c->verify))
				return -1;
			break;
		case OPT_RATE:
			if (number(name, optarg, &c->rate))
				return -1;
			break;
		case OPT_DEPTH:
			if (positive(name, optarg, &c->depth))
				return -1;
			break;
		case OPT_REQUEST:
			if (positive(name, optarg, &c->request))
				return -1;
			break;
		case OPT_BLOCK:
			if (positive(name, optarg, &c->block))
				return -1;
			break;
		case OPT_NO_DIRECT:
			c->flags |= RESYNC_F_NO_DIRECT;
			break;
		case OPT_NO_ZERO:
			c->flags |= RESYNC_F_NO_ZERO_DETECT;
			break;
		case OPT_TRIM:
			c->flags |= RESYNC_F_ALLOW_TRIM;
			break;
		case OPT_CONNS:
			if (positive(name, optarg, &c->conns))
				return -1;
			break;
		case OPT_TLS_CERTS:
			c->tls_certs = optarg;
			break;
		case OPT_TLS_PSK:
			c->tls_psk = optarg;
			break;
		case OPT_TLS_USER:
			c->tls_user = optarg;
			break;
		case OPT_DIGEST_FROM:
			c->digest_from = optarg;
			break;
		case OPT_DIGEST_HASH:
			if (!strcmp(optarg, "blake2b"))
				c->digest_hash = RESYNC_DIGEST_HASH_BLAKE2B;
			else if (!strcmp(optarg, "xxh3"))
				c->digest_hash = RESYNC_DIGEST_HASH_XXH3_128;
			else {
				fprintf(stderr,
					"resync: --digest-hash takes blake2b or xxh3, not '%s'\n",
					optarg);
				return -1;
			}
			break;
		case OPT_WRITE_MODE:
			if (!strcmp(optarg, "auto"))
				c->write_mode = RESYNC_WRITE_AUTO;
			else if (!strcmp(optarg, "direct"))
				c->write_mode = RESYNC_WRITE_DIRECT;
			else if (!strcmp(optarg, "buffered"))
				c->write_mode = RESYNC_WRITE_BUFFERED;
			else {
				fprintf(stderr,
					"resync: --write-mode takes auto, direct or buffered, not "
					"'%s'\n",
					optarg);
				return -1;
			}
			break;
		case OPT_PROGRESS:
			c->out.bar = true;
			break;
		case OPT_JSON:
			c->out.json = true;
			break;
		case OPT_STATS:
			c->out.stats = true;
			break;
		case OPT_PROGRESS_MS:
			if (number(name, optarg, &c->out.interval_ms))
				return -1;
			break;
		case 'v':
			c->out.verbose = true;
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_OK);
		case OPT_VERSION:
		case OPT_LONG_OPTIONS:
		case OPT_SHORT_OPTIONS:
			info_option(opt);
			exit(EXIT_OK);
		default:
			fprintf(stderr, "Try 'resync --help'.\n");
			return -1;
		}
	}
	return 0;
}

/* Applies the options; a value the library refuses is a usage error. */
static int configure(resync *r, struct cli *c, const char *src, const char *dst)
{
	struct {
		int ret;
		const char *what;
	} steps[] = {
		{ resync_set_source(r, src), "source" },
		{ dst ? resync_set_target(r, dst) : 0, "target" },
		{ resync_set_mode(r, c->mode, c->mode_arg), "mode" },
		{ resync_set_flags(r, c->flags), "flags" },
		{ resync_set_verify(r, c->verify, SAMPLE_PER_GIB, SAMPLE_MIN), "--verify" },
		{ c->depth ? resync_set_queue_depth(r, c->depth > 1024 ? 0 : (unsigned)c->depth) :
			     0,
		  "--queue-depth (1..1024)" },
		{ c->request ? resync_set_request_size(r, c->request > UINT32_MAX ?
								  0 :
								  (uint32_t)c->request) :
			       0,
		  "--request-size (a power of two, 4K..64M)" },
		{ c->block ?
			  resync_set_block_size(r, c->block > UINT32_MAX ? 0 : (uint32_t)c->block) :
			  0,
		  "--block-size (a power of two, 4K..64M)" },
		{ resync_set_rate_limit(r, c->rate), "--rate" },
		{ resync_set_write_mode(r, c->write_mode), "--write-mode" },
		{ c->conns ? resync_set_nbd_connections(r, c->conns > 16 ? 0 : (unsigned)c->conns) :
			     0,
		  "--connections (1..16)" },
		{ resync_set_tls(r, c->tls_certs, c->tls_psk, c->tls_user),
		  "--tls-certs and --tls-psk (one at most)" },
		{ resync_set_checkpoint(r, c->checkpoint, (uint32_t)c->ckpt_ms, c->ckpt_bytes),
		  "--checkpoint" },
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (steps[i].ret == -EINVAL)
			return usage_error("invalid value for %s", steps[i].what);
		if (steps[i].ret) {
			fprintf(stderr, "resync: %s: %s\n", steps[i].what, strerror(-steps[i].ret));
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

/* --digest-from: the far side's `resync digest`, run by sh -c in its own
 * process group (a terminal's ^C reaches us, and we stop it), its stdout a
 * pipe the library reads. */
struct digest_cmd {
	pid_t pid;
	int fd;
	const char *cmd;
};

static int digest_cmd_start(struct digest_cmd *dc, resync *r, const struct cli *c)
{
	int p[2];
	dc->cmd = c->digest_from;
	if (pipe2(p, O_CLOEXEC))
		return fprintf(stderr, "resync: pipe: %s\n", strerror(errno)), -errno;
	fflush(NULL);
	dc->pid = fork();
	if (dc->pid < 0) {
		fprintf(stderr, "resync: fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (dc->pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", c->digest_from, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	dc->fd = p[0];
	struct resync_digest_opts o = { .struct_size = sizeof o, .hash = c->digest_hash };
	int ret = resync_set_digest_source(r, dc->fd, &o);
	if (ret)
		fprintf(stderr, "resync: --digest-from: %s\n", strerror(-ret));
	return ret;
}

/* The command is done with once the run is: a failed run stops it; its
 * own failure is worth a word when the run failed too (the stream's error
 * says what was missing, the command's status why). */
static void digest_cmd_finish(struct digest_cmd *dc, int ret)
{
	if (dc->fd >= 0)
		close(dc->fd);
	if (dc->pid <= 0)
		return;
	if (ret)
		kill(-dc->pid, SIGTERM);
	int st;
	while (waitpid(dc->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (ret && WIFEXITED(st) && WEXITSTATUS(st))
		fprintf(stderr, "resync: the digest command '%s' exited with status %d\n", dc->cmd,
			WEXITSTATUS(st));
}

/* resync digest SRC: the stream on stdout, messages on stderr. */
static int digest_main(struct cli *c, int argc, char **argv)
{
	if (parse(c, argc, argv))
		return EXIT_USAGE;
	if (argc - optind != 1)
		return usage_error("%s needs SRC (and writes to stdout)", "digest");
	if (c->modes_given || c->checkpoint || c->verify || c->digest_from || c->rate ||
	    c->out.json || c->out.stats || c->out.bar)
		return usage_error("%s",
				   "digest takes no mode, --checkpoint, --verify, --digest-from, "
				   "--rate or progress options");
	if (isatty(1))
		return usage_error("%s", "digest writes a binary stream: redirect stdout");
	resync *r = resync_new();
	if (!r)
		return fprintf(stderr, "resync: out of memory\n"), EXIT_RUNTIME;
	int status = configure(r, c, argv[optind], NULL);
	if (status) {
		resync_free(r);
		return status;
	}
	/* A reader that goes away is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	running = r;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct resync_digest_opts o = { .struct_size = sizeof o, .hash = c->digest_hash };
	int ret = resync_digest_write(r, 1, &o);
	running = NULL;
	struct resync_stats st;
	resync_get_stats(r, &st);
	if (ret)
		fprintf(stderr, "resync: digest: %s\n",
			*resync_error(r) ? resync_error(r) : strerror(-ret));
	else if (c->out.verbose)
		fprintf(stderr,
			"resync: digest: %" PRIu64 " bytes hashed, %" PRIu64 " read, %" PRIu64
			" bytes of digests written\n",
			st.size, st.bytes_read, st.digest_stream_bytes);
	resync_free(r);
	return !ret ? EXIT_OK : ret == -ECANCELED ? EXIT_INTERRUPTED : EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	if (argc < 2)
		return usage(stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout), EXIT_OK;
	for (const struct option *o = options; o->name; o++)
		if (!strncmp(argv[1], "--", 2) && !strcmp(argv[1] + 2, o->name) &&
		    info_option(o->val))
			return EXIT_OK;
	c.command = argv[1];
	bool copy = !strcmp(c.command, "copy");
	bool compare = !strcmp(c.command, "compare");
	bool verify = !strcmp(c.command, "verify");
	if (!strcmp(c.command, "digest"))
		return digest_main(&c, argc - 1, argv + 1);
	if (!copy && !compare && !verify)
		return usage_error("unknown command '%s' (copy, compare, verify, digest)",
				   c.command);
	if (parse(&c, argc - 1, argv + 1))
		return EXIT_USAGE;
	if (argc - 1 - optind != 2)
		return usage_error("%s needs SRC and DST", c.command);
	if (c.modes_given > 1)
		return usage_error(
			"%s",
			"give at most one of --full, --compare, --bitmap, --extents, --nbd-dirty");
	if (!copy && (c.modes_given || c.checkpoint || c.verify))
		return usage_error("%s takes no mode, --checkpoint or --verify", c.command);
	if (c.digest_hash && !c.digest_from)
		return usage_error("%s", "--digest-hash goes with --digest-from");
	/* Digests decide what differs: that is a compare. */
	if (c.digest_from) {
		if (c.modes_given && c.mode != RESYNC_COMPARE)
			return usage_error("%s", "--digest-from compares: it takes no other mode");
		c.mode = RESYNC_COMPARE;
	}
	if (!copy) {
		/* compare: every block, nothing written; verify: stop at the first. */
		c.mode = RESYNC_COMPARE;
		c.flags |= RESYNC_F_DRY_RUN | (verify ? RESYNC_F_FIRST_DIFF : 0);
	}
	const char *src = argv[optind + 1], *dst = argv[optind + 2];
	resync *r = resync_new();
	if (!r)
		return fprintf(stderr, "resync: out of memory\n"), EXIT_RUNTIME;
	int status = configure(r, &c, src, dst);
	if (status) {
		resync_free(r);
		return status;
	}
	output_start(&c.out, r, c.command);

	struct sigaction sa = { .sa_handler = on_signal };
	running = r;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct digest_cmd dc = { .pid = -1, .fd = -1 };
	int ret = c.digest_from ? digest_cmd_start(&dc, r, &c) : 0;
	if (!ret)
		ret = resync_run(r);
	running = NULL;
	digest_cmd_finish(&dc, ret);

	if (!ret)
		status = EXIT_OK;
	else if (ret == -EILSEQ)
		status = EXIT_DIFFER;
	else if (ret == -ECANCELED)
		status = EXIT_INTERRUPTED;
	else
		status = EXIT_RUNTIME;
	output_finish(&c.out, r, ret, status);
	struct resync_stats st;
	resync_get_stats(r, &st);
	if (ret == -EILSEQ && st.verify_unplanned_diff)
		fprintf(stderr,
			"resync: the change record (%s) missed a changed block, so blocks it did "
			"not name may differ too: rerun with --compare\n",
			c.mode == RESYNC_BITMAP    ? "--bitmap" :
			c.mode == RESYNC_EXTENTS   ? "--extents" :
			c.mode == RESYNC_NBD_DIRTY ? "--nbd-dirty" :
						     "plan");
	resync_free(r);
	return status;
}
