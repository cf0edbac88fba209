/* SPDX-License-Identifier: MIT */
/*
 * benchtool: data generation and checking for the resync benchmark.
 *
 *   benchtool write FILE SIZE BLOCK FRACTION PICK_SEED DATA_SEED RUN [EXTENTS_OUT]
 *	Make FILE SIZE bytes long (never shrinking it, never touching other
 *	bytes) and write pseudo-random data into a chosen FRACTION (0..1) of its
 *	BLOCK-sized blocks, chosen in runs of RUN bytes by PICK_SEED.  The data
 *	of each 4 KiB unit depends only on DATA_SEED and the unit's offset, so
 *	the same command always writes the same bytes: that is how the harness
 *	puts a target back into its stale state after a run.  FRACTION 1 fills
 *	the whole file.  The chosen extents (coalesced) go to EXTENTS_OUT as
 *	"offset length" lines.  FILE "-" writes nothing: it only prints the
 *	extents that the same arguments would write.
 *   benchtool cmp A B
 *	Exit 0 if A and B have the same size and bytes, 1 (with the first
 *	differing offset on stderr) if not.  Reads only ranges where at least
 *	one file has data (SEEK_DATA/SEEK_HOLE), so a 1 TiB sparse pair with
 *	little data compares in the time of its data.
 *   benchtool copyext SRC DST EXTENTS
 *	Copy the listed extents from SRC to DST.
 *   benchtool allocated FILE
 *	Print FILE's data extents as "offset length" lines.
 *   benchtool shape BYTES_PER_SEC COUNT_FILE
 *	Copy stdin to stdout no faster than BYTES_PER_SEC (a link of that
 *	rate: each piece leaves when the link would have carried it), then
 *	write the number of bytes carried to COUNT_FILE.
 *
 * Exit status: 0 success, 1 difference (cmp), 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UNIT  4096u			/* data seeding unit */
#define CHUNK (4u << 20)		/* I/O buffer */

static void die(const char *call, const char *what)
{
	fprintf(stderr, "benchtool: %s: %s: %s\n", call, what, strerror(errno));
	exit(2);
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	case 'T': case 't': v <<= 40; end++; break;
	}
	if (errno || end == s || *end) {
		fprintf(stderr, "benchtool: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fill buf (len a multiple of UNIT) with the data of [off, off + len). */
static void fill(unsigned char *buf, uint64_t off, size_t len, uint64_t seed)
{
	for (size_t u = 0; u < len; u += UNIT) {
		uint64_t s = seed * 0x2545f4914f6cdd1dULL ^ ((off + u) / UNIT);
		uint64_t x = splitmix64(&s), *w = (uint64_t *)(buf + u);

		/* xorshift64 inside a unit: fast, not compressible */
		for (size_t i = 0; i < UNIT / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w[i] = x;
		}
	}
}

static void pwrite_all(int fd, const unsigned char *buf, size_t len, uint64_t off,
		       const char *name)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("pwrite", name);
		}
		buf += n, len -= n, off += n;
	}
}

/* Reads exactly len bytes, or fewer at end of file (the rest zeroed). */
static void pread_all(int fd, unsigned char *buf, size_t len, uint64_t off,
		      const char *name)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("pread", name);
		}
		if (n == 0) {
			memset(buf, 0, len);
			return;
		}
		buf += n, len -= n, off += n;
	}
}

static unsigned char *xalloc(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		die("posix_memalign", "buffer");
	return p;
}

static int cmd_write(int argc, char **argv)
{
	if (argc < 8 || argc > 9) {
		fprintf(stderr, "usage: benchtool write FILE SIZE BLOCK FRACTION PICK_SEED DATA_SEED RUN [EXTENTS_OUT]\n");
		return 2;
	}
	const char *name = argv[1];
	uint64_t size = parse_u64(argv[2]), block = parse_u64(argv[3]);
	double fraction = strtod(argv[4], NULL);
	uint64_t pick = parse_u64(argv[5]), seed = parse_u64(argv[6]);
	uint64_t run = parse_u64(argv[7]);
	FILE *ext = NULL;

	if (!block || block % UNIT || !run || run % block || size % run) {
		fprintf(stderr, "benchtool: BLOCK must be a multiple of %u, RUN of BLOCK, SIZE of RUN\n", UNIT);
		return 2;
	}
	if (argc == 9 && !(ext = fopen(argv[8], "w")))
		die("fopen", argv[8]);

	/* O_DIRECT: generating gigabytes through the page cache costs more CPU
	 * than the benchmark itself, and leaves the cache cold. */
	int dry = !strcmp(name, "-"), fd = -1;
	struct stat st;

	if (!dry) {
		fd = open(name, O_WRONLY | O_CREAT | O_DIRECT, 0644);
		if (fd < 0 && errno == EINVAL)
			fd = open(name, O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			die("open", name);
		if (fstat(fd, &st))
			die("fstat", name);
		if ((uint64_t)st.st_size < size && ftruncate(fd, size))
			die("ftruncate", name);
	}

	/* Selection sampling (Knuth's algorithm S): exactly k of n runs. */
	uint64_t n = size / run, k = (uint64_t)(fraction * n + 0.5), chosen = 0;
	uint64_t ext_off = 0, ext_len = 0;
	unsigned char *buf = xalloc(CHUNK);

	for (uint64_t i = 0; i < n && chosen < k; i++) {
		uint64_t r = splitmix64(&pick);

		if ((double)(r >> 11) * 0x1.0p-53 * (n - i) >= (double)(k - chosen))
			continue;
		chosen++;
		for (uint64_t o = i * run; !dry && o < (i + 1) * run; o += CHUNK) {
			size_t len = (i + 1) * run - o < CHUNK ? (i + 1) * run - o : CHUNK;

			fill(buf, o, len, seed);
			pwrite_all(fd, buf, len, o, name);
		}
		if (ext_len && ext_off + ext_len == i * run) {
			ext_len += run;
		} else {
			if (ext && ext_len)
				fprintf(ext, "%" PRIu64 " %" PRIu64 "\n", ext_off, ext_len);
			ext_off = i * run, ext_len = run;
		}
	}
	if (ext && ext_len)
		fprintf(ext, "%" PRIu64 " %" PRIu64 "\n", ext_off, ext_len);
	if (ext && fclose(ext))
		die("fclose", argv[8]);
	if (!dry && close(fd))
		die("close", name);
	free(buf);
	return 0;
}

/* The end of the region starting at off in which fd's allocation does not change. */
static uint64_t region_end(int fd, uint64_t off, uint64_t size, int *is_data)
{
	off_t d = lseek(fd, off, SEEK_DATA);

	if (d < 0 && errno != ENXIO)
		die("lseek", "SEEK_DATA");
	if (d < 0 || (uint64_t)d >= size) {	/* hole to the end */
		*is_data = 0;
		return size;
	}
	if ((uint64_t)d > off) {
		*is_data = 0;
		return d;
	}
	*is_data = 1;
	off_t h = lseek(fd, off, SEEK_HOLE);

	if (h < 0)
		die("lseek", "SEEK_HOLE");
	return (uint64_t)h < size ? (uint64_t)h : size;
}

struct reader {
	int fd;
	const char *name;
	unsigned char *buf;
	size_t len;
	uint64_t off;
};

static void *reader_run(void *arg)
{
	struct reader *r = arg;

	/* O_DIRECT wants whole blocks; past the end of file reads come back short */
	pread_all(r->fd, r->buf, (r->len + 4095) & ~(size_t)4095, r->off, r->name);
	return NULL;
}

/* O_DIRECT when the file system allows it, so checking does not fill the cache. */
static int open_ro(const char *name)
{
	int fd = open(name, O_RDONLY | O_DIRECT);

	if (fd < 0 && errno == EINVAL)
		fd = open(name, O_RDONLY);
	if (fd < 0)
		die("open", name);
	return fd;
}

static int cmd_cmp(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: benchtool cmp A B\n");
		return 2;
	}
	int a = open_ro(argv[1]), b = open_ro(argv[2]);
	struct stat sa, sb;

	if (fstat(a, &sa) || fstat(b, &sb))
		die("fstat", "cmp");
	if (sa.st_size != sb.st_size) {
		fprintf(stderr, "benchtool: cmp: sizes differ: %jd %jd\n",
			(intmax_t)sa.st_size, (intmax_t)sb.st_size);
		return 1;
	}
	uint64_t size = sa.st_size, off = 0;
	struct reader ra = { a, argv[1], xalloc(CHUNK + 4096), 0, 0 };
	struct reader rb = { b, argv[2], xalloc(CHUNK + 4096), 0, 0 };

	while (off < size) {
		int da, db;
		uint64_t ea = region_end(a, off, size, &da);
		uint64_t eb = region_end(b, off, size, &db);
		uint64_t end = ea < eb ? ea : eb;

		if (!da && !db) {		/* both holes: equal */
			off = end;
			continue;
		}
		while (off < end) {
			size_t len = end - off < CHUNK ? end - off : CHUNK;
			pthread_t t;

			ra.len = rb.len = len, ra.off = rb.off = off;
			if ((errno = pthread_create(&t, NULL, reader_run, &rb)))
				die("pthread_create", "cmp");
			reader_run(&ra);
			pthread_join(t, NULL);
			if (memcmp(ra.buf, rb.buf, len)) {
				size_t i = 0;

				while (ra.buf[i] == rb.buf[i])
					i++;
				fprintf(stderr, "benchtool: cmp: %s and %s differ at byte %" PRIu64 "\n",
					argv[1], argv[2], off + i);
				return 1;
			}
			off += len;
		}
	}
	return 0;
}

static int cmd_copyext(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: benchtool copyext SRC DST EXTENTS\n");
		return 2;
	}
	int s = open(argv[1], O_RDONLY), d = open(argv[2], O_WRONLY);
	FILE *ext = fopen(argv[3], "r");
	uint64_t off, len;
	unsigned char *buf = xalloc(CHUNK);

	if (s < 0)
		die("open", argv[1]);
	if (d < 0)
		die("open", argv[2]);
	if (!ext)
		die("fopen", argv[3]);
	while (fscanf(ext, "%" SCNu64 " %" SCNu64, &off, &len) == 2) {
		while (len) {
			size_t n = len < CHUNK ? len : CHUNK;

			pread_all(s, buf, n, off, argv[1]);
			pwrite_all(d, buf, n, off, argv[2]);
			off += n, len -= n;
		}
	}
	if (close(d))
		die("close", argv[2]);
	return 0;
}

static int cmd_allocated(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: benchtool allocated FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	struct stat st;
	uint64_t off = 0;

	if (fd < 0)
		die("open", argv[1]);
	if (fstat(fd, &st))
		die("fstat", argv[1]);
	while (off < (uint64_t)st.st_size) {
		int data;
		uint64_t end = region_end(fd, off, st.st_size, &data);

		if (data)
			printf("%" PRIu64 " %" PRIu64 "\n", off, end - off);
		off = end;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_shape(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: benchtool shape BYTES_PER_SEC COUNT_FILE\n");
		return 2;
	}
	double rate = strtod(argv[1], NULL), start = now_s();
	static char buf[16384];
	uint64_t total = 0;
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		total += (uint64_t)n;
		/* The piece is through once the link has carried every byte so far. */
		double due = start + total / rate, wait = due - now_s();
		if (wait > 0) {
			struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
			nanosleep(&ts, NULL);
		}
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(1, buf + w, (size_t)(n - w));
			if (k <= 0)
				die("write", "stdout");
			w += k;
		}
	}
	if (n < 0)
		die("read", "stdin");
	FILE *f = fopen(argv[2], "w");
	if (!f || fprintf(f, "%" PRIu64 "\n", total) < 0 || fclose(f))
		die("write", argv[2]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "shape"))
		return cmd_shape(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "write"))
		return cmd_write(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "cmp"))
		return cmd_cmp(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "copyext"))
		return cmd_copyext(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "allocated"))
		return cmd_allocated(argc - 1, argv + 1);
	fprintf(stderr, "usage: benchtool write|cmp|copyext|allocated|shape ...\n");
	return 2;
}
