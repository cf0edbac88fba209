/* SPDX-License-Identifier: MIT */
/* The verify set: planned blocks and a uniform random sample of the rest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "verify.h"

/* xoshiro256**: fast, and seeded from the kernel each run. */
struct rng {
	uint64_t s[4];
};

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *g)
{
	uint64_t *s = g->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n), n > 0, without modulo bias (Lemire). */
static uint64_t rng_below(struct rng *g, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)rng_next(g) * n;
	uint64_t low = (uint64_t)m;
	if (low < n) {
		uint64_t floor = -n % n;
		while (low < floor) {
			m = (unsigned __int128)rng_next(g) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

int rs_verify_seed(struct resync *r, uint64_t seed[4])
{
	size_t got = 0, want = 4 * sizeof *seed;
	while (got < want) {
		ssize_t n = getrandom((char *)seed + got, want - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return rs_fail(r, n < 0 ? -errno : -EIO, UINT64_MAX,
				       "verify: getrandom for the sample: %s",
				       n < 0 ? strerror(errno) : "no bytes");
		got += (size_t)n;
	}
	return 0;
}

static void rng_init(struct rng *g, const uint64_t seed[4])
{
	memcpy(g->s, seed, sizeof g->s);
	/* The all-zero state is xoshiro's one fixed point. */
	if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3]))
		g->s[0] = 1;
}

/* The position of the n-th (from 0) clear bit of w. */
static unsigned nth_clear(uint64_t w, uint64_t n)
{
	uint64_t z = ~w;
	while (n--)
		z &= z - 1;
	return (unsigned)__builtin_ctzll(z);
}

/* Sets in out the k unplanned blocks whose ranks (0-based, counting only
 * clear bits of planned in block order) are set in ranks. */
static void mark_ranked(const struct resync_bitmap *planned, const uint64_t *ranks, uint64_t nranks,
			struct resync_bitmap *out)
{
	uint64_t w = 0, before = 0;
	for (uint64_t i = 0; i < (nranks + 63) / 64; i++) {
		for (uint64_t bits = ranks[i]; bits; bits &= bits - 1) {
			uint64_t rank = i * 64 + (uint64_t)__builtin_ctzll(bits);
			uint64_t clear;
			while (before + (clear = 64 - (uint64_t)__builtin_popcountll(
							      planned->words[w])) <=
			       rank) {
				before += clear;
				w++;
			}
			rs_bm_set_blocks(out, w * 64 + nth_clear(planned->words[w], rank - before),
					 1);
		}
	}
}

static uint64_t sample_size(const struct resync *r, const struct resync_bitmap *planned,
			    uint64_t unplanned)
{
	const unsigned __int128 gib = 1ull << 30;
	unsigned __int128 want =
		((unsigned __int128)r->sample_per_gib * planned->device_size + gib - 1) / gib;
	if (want < r->sample_min)
		want = r->sample_min;
	return want < unplanned ? (uint64_t)want : unplanned;
}

/* Floyd's algorithm: k distinct ranks in [0, n) in k draws. */
static int sample(struct resync *r, const struct resync_bitmap *planned, uint64_t n, uint64_t k,
		  const uint64_t seed[4], struct resync_bitmap *out)
{
	struct rng g;
	rng_init(&g, seed);
	uint64_t *ranks = calloc((n + 63) / 64, sizeof *ranks);
	if (!ranks)
		return rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory for the verify sample");
	for (uint64_t j = n - k; j < n; j++) {
		uint64_t t = rng_below(&g, j + 1);
		if ((ranks[t >> 6] >> (t & 63)) & 1)
			t = j;
		ranks[t >> 6] |= 1ull << (t & 63);
	}
	mark_ranked(planned, ranks, n, out);
	free(ranks);
	return 0;
}

int rs_verify_blocks(struct resync *r, enum resync_verify how, const struct resync_bitmap *planned,
		     const uint64_t seed[4], struct resync_bitmap **out)
{
	struct resync_bitmap *b;
	int ret = resync_bitmap_new(&b, planned->device_size, planned->granularity);
	if (ret)
		return rs_fail(r, ret, UINT64_MAX, "out of memory for the verify plan");
	if (how == RESYNC_VERIFY_FULL) {
		rs_bm_set_blocks(b, 0, b->nblocks);
		*out = b;
		return 0;
	}
	memcpy(b->words, planned->words, b->nwords * sizeof *b->words);
	if (how == RESYNC_VERIFY_SAMPLE) {
		uint64_t unplanned = planned->nblocks - rs_bm_count(planned);
		uint64_t k = sample_size(r, planned, unplanned);
		if (k && (ret = sample(r, planned, unplanned, k, seed, b))) {
			resync_bitmap_free(b);
			return ret;
		}
	}
	*out = b;
	return 0;
}
