// SPDX-License-Identifier: MIT
// The digest compare with real processes: `resync digest` as the far side,
// `resync copy --digest-from` as the near side, an nbdkit export (log
// filter) as the source across the "link", and every way a stream can be
// wrong failing the run with its documented errno before anything is written.
#include <gtest/gtest.h>
#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <sodium.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <resync/digest.h>
#include <resync/resync.h>
#include "engine_util.h"
#include "nbd_servers.h"

namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, BLOCK = 64 * KiB;
constexpr uint64_t SIZE = 8 * MiB + 12 * KiB; // a shorter last block
// Blocks the target gets wrong: single, adjacent, first and last.
const std::vector<uint64_t> CHANGED = { 0, 5, 6, 7, 40, 100, 128 };
// The rate limit the copies made while hashing keep to.
constexpr uint64_t RATE = 256 * KiB;

std::string resync_bin()
{
	return rt::bin_dir() + "/resync";
}

class Digest : public ::testing::Test {
protected:
	void SetUp() override
	{
		src_ = tmp_.path("src.img");
		tgt_ = tmp_.path("tgt.img");
		rt::Bytes data = rt::random_bytes(SIZE, 11);
		rt::write_file(src_, data);
		for (uint64_t b : CHANGED) {
			uint64_t len = std::min(BLOCK, SIZE - b * BLOCK);
			std::fill(data.begin() + b * BLOCK + 100,
				  data.begin() + b * BLOCK + len / 2, 0x5a);
		}
		rt::write_file(tgt_, data);
		before_ = rt::sha256(tgt_);
	}

	// The far side's stream of path, made by the library into a file.
	std::string make_stream(const std::string &name, const std::string &path, uint32_t hash = 0,
				uint32_t block = BLOCK)
	{
		std::string out = tmp_.path(name);
		int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		EXPECT_GE(fd, 0);
		resync *r = resync_new();
		EXPECT_EQ(resync_set_source(r, path.c_str()), 0);
		EXPECT_EQ(resync_set_block_size(r, block), 0);
		resync_digest_opts o{ sizeof o, hash, 0, 0 };
		EXPECT_EQ(resync_digest_write(r, fd, &o), 0) << resync_error(r);
		resync_free(r);
		close(fd);
		return out;
	}

	// A compare-mode copy reading its digests from the file stream.
	RunResult run_with(const std::string &stream, uint32_t hash = 0, uint64_t flags = 0)
	{
		int fd = open(stream.c_str(), O_RDONLY);
		EXPECT_GE(fd, 0);
		RunResult res =
			run_engine(src_, tgt_, RESYNC_COMPARE, nullptr, flags, [&](resync *r) {
				resync_digest_opts o{ sizeof o, hash, 0, 0 };
				EXPECT_EQ(resync_set_digest_source(r, fd, &o), 0);
			});
		close(fd);
		return res;
	}

	// A compare fed by a digest stream, its copies limited by `limit` to
	// RATE: it writes exactly the changed blocks, taking at least the time
	// the rate allows for them (the bucket holds two requests).
	void expect_copies_keep_to(const std::function<void(resync *)> &limit)
	{
		int fd = open(make_stream("s.dg", src_).c_str(), O_RDONLY);
		RunResult res = run_engine(src_, tgt_, RESYNC_COMPARE, nullptr, 0, [&](resync *r) {
			resync_set_request_size(r, BLOCK);
			limit(r);
			resync_set_digest_source(r, fd, nullptr);
		});
		close(fd);
		ASSERT_EQ(res.ret, 0) << res.error;
		uint64_t changed = 0;
		for (uint64_t b : CHANGED)
			changed += std::min(BLOCK, SIZE - b * BLOCK);
		EXPECT_EQ(res.st.bytes_written, changed);
		EXPECT_GE(res.st.elapsed_ns, (changed - 2 * BLOCK) * 1000000000ull / RATE);
		EXPECT_EQ(rt::read_file(tgt_), rt::read_file(src_));
	}

	rt::TempDir tmp_;
	std::string src_, tgt_, before_;
};

template <class T> T at(const rt::Bytes &b, size_t off)
{
	T v;
	memcpy(&v, b.data() + off, sizeof v);
	return v;
}

template <class T> void put(rt::Bytes &b, size_t off, T v)
{
	memcpy(b.data() + off, &v, sizeof v);
}

// Recomputes the header's checksum, as a producer of a bad-but-well-formed
// header would.
void reseal_header(rt::Bytes &b)
{
	put<uint64_t>(b, 56, 0);
	put<uint64_t>(b, 56, XXH3_64bits(b.data(), RESYNC_DIGEST_HEADER_SIZE));
}

TEST_F(Digest, StreamRoundTripMatchesIndependentHashes)
{
	ASSERT_EQ(sodium_init() < 0, false);
	for (uint32_t hash : { RESYNC_DIGEST_BLAKE2B, RESYNC_DIGEST_XXH3_128 }) {
		rt::Bytes s = rt::read_file(make_stream("s.dg", src_, hash));
		rt::Bytes data = rt::read_file(src_);
		uint64_t nblk = (SIZE + BLOCK - 1) / BLOCK;
		unsigned ds = hash == RESYNC_DIGEST_BLAKE2B ? 32 : 16;
		ASSERT_EQ(memcmp(s.data(), RESYNC_DIGEST_MAGIC, 8), 0);
		EXPECT_EQ(at<uint32_t>(s, 8), RESYNC_DIGEST_VERSION);
		EXPECT_EQ(at<uint32_t>(s, 16), BLOCK);
		EXPECT_EQ(at<uint16_t>(s, 20), hash);
		EXPECT_EQ(at<uint16_t>(s, 22), ds);
		EXPECT_EQ(at<uint64_t>(s, 24), SIZE);
		EXPECT_EQ(at<uint64_t>(s, 32), nblk);
		// One data frame (nblk < RESYNC_DIGEST_MAX_COUNT), then the end.
		size_t f = RESYNC_DIGEST_HEADER_SIZE;
		ASSERT_EQ(s.size(), f + 2 * RESYNC_DIGEST_FRAME_SIZE + nblk * ds);
		EXPECT_EQ(at<uint32_t>(s, f), RESYNC_DIGEST_FRAME_DATA);
		EXPECT_EQ(at<uint32_t>(s, f + 4), nblk);
		EXPECT_EQ(at<uint64_t>(s, f + 8), 0u);
		const uint8_t *d = s.data() + f + RESYNC_DIGEST_FRAME_SIZE;
		for (uint64_t b = 0; b < nblk; b++) {
			uint8_t want[32];
			size_t len = std::min(BLOCK, SIZE - b * BLOCK);
			if (hash == RESYNC_DIGEST_BLAKE2B)
				crypto_generichash(want, 32, data.data() + b * BLOCK, len, nullptr,
						   0);
			else
				XXH128_canonicalFromHash((XXH128_canonical_t *)want,
							 XXH3_128bits(data.data() + b * BLOCK,
								      len));
			ASSERT_EQ(memcmp(d + b * ds, want, ds), 0) << "block " << b;
		}
		size_t e = f + RESYNC_DIGEST_FRAME_SIZE + nblk * ds;
		EXPECT_EQ(at<uint32_t>(s, e), RESYNC_DIGEST_FRAME_END);
		EXPECT_EQ(at<uint64_t>(s, e + 8), nblk);
		EXPECT_EQ(at<uint64_t>(s, e + 16), XXH3_64bits(d, nblk * ds));
	}
}

// Holes of the far side's disk are not read, and hash as the zeroes they
// read as: the stream of a sparse file is the stream of its bytes.
TEST_F(Digest, ProducerSkipsHoles)
{
	std::string sparse = tmp_.path("sparse.img"), dense = tmp_.path("dense.img");
	rt::sparse_file(sparse, 16 * MiB + 12 * KiB); // a shorter last block, a hole
	rt::pwrite_at(sparse, 5 * MiB, rt::random_bytes(BLOCK, 3));
	rt::write_file(dense, rt::read_file(sparse));
	std::string s1 = tmp_.path("sparse.dg");
	int fd = open(s1.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	resync *r = resync_new();
	ASSERT_EQ(resync_set_source(r, sparse.c_str()), 0);
	ASSERT_EQ(resync_digest_write(r, fd, nullptr), 0) << resync_error(r);
	close(fd);
	resync_stats st;
	resync_get_stats(r, &st);
	resync_free(r);
	EXPECT_EQ(st.size, 16 * MiB + 12 * KiB);
	EXPECT_EQ(st.bytes_read, 1 * MiB); // the one request holding data
	EXPECT_EQ(st.digest_stream_bytes, rt::file_size(s1));
	EXPECT_EQ(rt::read_file(s1), rt::read_file(make_stream("dense.dg", dense)));
}

TEST_F(Digest, FindsExactlyTheChangedBlocks)
{
	std::string s = make_stream("s.dg", src_);
	RunResult res = run_with(s, 0, RESYNC_F_DRY_RUN);
	EXPECT_EQ(res.ret, -EILSEQ) << res.error;
	uint64_t changed = 0;
	for (uint64_t b : CHANGED)
		changed += std::min(BLOCK, SIZE - b * BLOCK);
	EXPECT_EQ(res.st.bytes_differing, changed);
	EXPECT_EQ(res.st.bytes_planned, changed);
	EXPECT_EQ(res.st.bytes_skipped_equal, SIZE - changed);
	EXPECT_EQ(res.error_offset, 100u);
	EXPECT_EQ(rt::sha256(tgt_), before_);
	RunResult copy = run_with(s);
	ASSERT_EQ(copy.ret, 0) << copy.error;
	EXPECT_EQ(copy.st.bytes_written, changed);
	EXPECT_EQ(rt::read_file(tgt_), rt::read_file(src_));
}

TEST_F(Digest, CliCopyReadsOnlyDifferingBlocksOverNbd)
{
	std::string log = tmp_.path("nbd.log");
	auto srv =
		nbdt::nbdkit(tmp_, "src", { "-r", "--filter=log", "file", src_, "logfile=" + log });
	ASSERT_TRUE(srv->ok()) << srv->log();
	std::string out;
	std::string cmd = resync_bin() + " copy --stats --digest-from '" + resync_bin() +
			  " digest " + src_ + "' '" + srv->uri() + "' " + tgt_ + " 2>&1";
	ASSERT_EQ(rt::sh(cmd, &out), 0) << out;
	EXPECT_EQ(rt::read_file(tgt_), rt::read_file(src_));
	EXPECT_NE(out.find("\"digest_stream_bytes\":" +
			   std::to_string(RESYNC_DIGEST_HEADER_SIZE + 2 * RESYNC_DIGEST_FRAME_SIZE +
					  129 * 32)),
		  std::string::npos)
		<< out;
	srv->stop();
	// Every byte the source served over NBD lies in a changed block, and
	// every changed block was served.
	std::ifstream in(log);
	std::set<uint64_t> served;
	uint64_t bytes = 0;
	for (std::string line; std::getline(in, line);) {
		size_t at_read = line.find("Read id=");
		uint64_t off, n;
		if (at_read == std::string::npos ||
		    sscanf(line.c_str() + at_read, "Read id=%*u offset=%" SCNx64 " count=%" SCNx64,
			   &off, &n) != 2)
			continue;
		bytes += n;
		for (uint64_t b = off / BLOCK; b * BLOCK < off + n; b++)
			served.insert(b);
	}
	EXPECT_EQ(served, std::set<uint64_t>(CHANGED.begin(), CHANGED.end()));
	uint64_t changed = 0;
	for (uint64_t b : CHANGED)
		changed += std::min(BLOCK, SIZE - b * BLOCK);
	EXPECT_EQ(bytes, changed);
}

TEST_F(Digest, CliDigestFailureFailsTheCopy)
{
	std::string out;
	std::string cmd = resync_bin() + " copy --digest-from '" + resync_bin() + " digest " +
			  tmp_.path("missing.img") + "' " + src_ + " " + tgt_ + " 2>&1";
	EXPECT_EQ(rt::sh(cmd, &out), 1) << out;
	EXPECT_NE(out.find("digest stream: ended before its header was complete"), std::string::npos)
		<< out;
	EXPECT_NE(out.find("exited with status 1"), std::string::npos) << out;
	EXPECT_EQ(rt::sha256(tgt_), before_);
	// XXH3 must be asked for on both sides.
	cmd = resync_bin() + " copy --digest-from '" + resync_bin() +
	      " digest --digest-hash xxh3 " + src_ + "' " + src_ + " " + tgt_ + " 2>&1";
	EXPECT_EQ(rt::sh(cmd, &out), 1) << out;
	EXPECT_NE(out.find("XXH3-128 digests, but BLAKE2b were asked for"), std::string::npos)
		<< out;
	EXPECT_EQ(rt::sha256(tgt_), before_);
	cmd = resync_bin() + " copy --digest-hash xxh3 --digest-from '" + resync_bin() +
	      " digest --digest-hash xxh3 " + src_ + "' " + src_ + " " + tgt_ + " 2>&1";
	EXPECT_EQ(rt::sh(cmd, &out), 0) << out;
	EXPECT_EQ(rt::read_file(tgt_), rt::read_file(src_));
}

struct Corruption {
	const char *name;
	int err;
	const char *message;
	std::function<void(rt::Bytes &)> edit;
};

class DigestCorrupt : public Digest, public ::testing::WithParamInterface<Corruption> {};

TEST_P(DigestCorrupt, FailsBeforeWriting)
{
	const Corruption &c = GetParam();
	rt::Bytes s = rt::read_file(make_stream("good.dg", src_));
	c.edit(s);
	std::string bad = tmp_.path("bad.dg");
	rt::write_file(bad, s);
	RunResult res = run_with(bad);
	EXPECT_EQ(res.ret, c.err) << res.error;
	EXPECT_NE(res.error.find(c.message), std::string::npos) << res.error;
	EXPECT_EQ(res.st.bytes_written, 0u);
	EXPECT_EQ(rt::sha256(tgt_), before_);
}

const size_t F = RESYNC_DIGEST_HEADER_SIZE, D = F + RESYNC_DIGEST_FRAME_SIZE;

INSTANTIATE_TEST_SUITE_P(
	Streams, DigestCorrupt,
	::testing::Values(Corruption{ "FlippedDigest", -EBADMSG,
				      "checksum mismatch in the frame at block 0",
				      [](rt::Bytes &b) { b[D + 77] ^= 1; } },
			  Corruption{ "FlippedFrameHeader", -EPROTO, "frame of",
				      [](rt::Bytes &b) { b[F + 8] ^= 1; } },
			  Corruption{ "FlippedEndFrame", -EBADMSG, "end frame checksum mismatch",
				      [](rt::Bytes &b) { b[b.size() - 16] ^= 1; } },
			  Corruption{ "WrongTotal", -EBADMSG, "total checksum mismatch",
				      [](rt::Bytes &b) {
					      size_t e = b.size() - RESYNC_DIGEST_FRAME_SIZE;
					      b[e + 16] ^= 1;
					      put<uint64_t>(b, e + 24, 0);
					      put<uint64_t>(b, e + 24,
							    XXH3_64bits(b.data() + e,
									RESYNC_DIGEST_FRAME_SIZE));
				      } },
			  Corruption{ "TruncatedInFrame", -ENODATA, "ended early",
				      [](rt::Bytes &b) { b.resize(D + 1000); } },
			  Corruption{ "TruncatedBeforeEnd", -ENODATA, "ended early",
				      [](rt::Bytes &b) {
					      b.resize(b.size() - RESYNC_DIGEST_FRAME_SIZE);
				      } },
			  Corruption{ "TruncatedHeader", -ENODATA, "before its header",
				      [](rt::Bytes &b) { b.resize(40); } },
			  Corruption{ "Empty", -ENODATA, "before its header",
				      [](rt::Bytes &b) { b.clear(); } },
			  Corruption{ "WrongMagic", -EBADMSG, "bad magic",
				      [](rt::Bytes &b) { b[0] = 'X'; } },
			  Corruption{ "HeaderChecksum", -EBADMSG, "header checksum mismatch",
				      [](rt::Bytes &b) { b[26] ^= 1; } },
			  Corruption{ "WrongVersion", -EPROTO, "version 2",
				      [](rt::Bytes &b) {
					      put<uint32_t>(b, 8, 2);
					      reseal_header(b);
				      } },
			  Corruption{ "UnknownHash", -EINVAL, "unknown hash id 9",
				      [](rt::Bytes &b) {
					      put<uint16_t>(b, 20, 9);
					      reseal_header(b);
				      } },
			  Corruption{ "ReservedSet", -EINVAL, "nonzero flags or reserved",
				      [](rt::Bytes &b) {
					      put<uint64_t>(b, 48, 1);
					      reseal_header(b);
				      } },
			  Corruption{ "WrongDeviceSize", -EINVAL,
				      "covers 8396800 bytes but the source has 8400896",
				      [](rt::Bytes &b) {
					      put<uint64_t>(b, 24, SIZE - 4096);
					      reseal_header(b);
				      } },
			  Corruption{ "UnknownFrameType", -EPROTO, "unknown frame type 7",
				      [](rt::Bytes &b) { put<uint32_t>(b, F, 7); } }),
	[](const ::testing::TestParamInfo<Corruption> &i) { return std::string(i.param.name); });

// A stream of several frames whose second frame is corrupt: the run fails;
// blocks copied before the fault hold the source's bytes, nothing from the
// bad frame on is touched, and a rerun with a good stream completes.
TEST_F(Digest, LaterFrameCorruptionFailsAfterPartialCopy)
{
	constexpr uint64_t B4 = 4096, N = 3 * RESYNC_DIGEST_MAX_COUNT; // three frames
	rt::Bytes src = rt::random_bytes(N * B4, 21), tgt = src;
	std::vector<uint64_t> changed = { 1, 2000, 4095, 4096, 5000, 9000 };
	for (uint64_t b : changed)
		tgt[b * B4 + 7] ^= 0xff;
	rt::write_file(src_, src);
	rt::write_file(tgt_, tgt);
	rt::Bytes s = rt::read_file(make_stream("multi.dg", src_, 0, B4));
	size_t second = D + RESYNC_DIGEST_MAX_COUNT * 32;
	ASSERT_EQ(at<uint64_t>(s, second + 8), RESYNC_DIGEST_MAX_COUNT);
	s[second + RESYNC_DIGEST_FRAME_SIZE + 5] ^= 1;
	rt::write_file(tmp_.path("bad.dg"), s);
	std::string ckpt = tmp_.path("ckpt");
	int fd = open(tmp_.path("bad.dg").c_str(), O_RDONLY);
	RunResult res = run_engine(src_, tgt_, RESYNC_COMPARE, nullptr, 0, [&](resync *r) {
		resync_set_block_size(r, B4);
		resync_set_digest_source(r, fd, nullptr);
		resync_set_checkpoint(r, ckpt.c_str(), 5000, 0);
	});
	close(fd);
	EXPECT_EQ(res.ret, -EBADMSG) << res.error;
	EXPECT_NE(res.error.find("checksum mismatch in the frame at block 4096"), std::string::npos)
		<< res.error;
	rt::Bytes now = rt::read_file(tgt_);
	for (uint64_t b = 0; b < N; b++) {
		bool is_old = !memcmp(now.data() + b * B4, tgt.data() + b * B4, B4);
		bool is_src = !memcmp(now.data() + b * B4, src.data() + b * B4, B4);
		ASSERT_TRUE(is_old || is_src) << "block " << b;
		if (b >= RESYNC_DIGEST_MAX_COUNT) {
			ASSERT_TRUE(is_old) << "block " << b;
		}
	}
	// Nothing of the failed stream was recorded as done.
	EXPECT_NE(access(ckpt.c_str(), F_OK), 0);
	fd = open(make_stream("good.dg", src_, 0, B4).c_str(), O_RDONLY);
	res = run_engine(src_, tgt_, RESYNC_COMPARE, nullptr, 0, [&](resync *r) {
		resync_set_block_size(r, B4);
		resync_set_digest_source(r, fd, nullptr);
		resync_set_checkpoint(r, ckpt.c_str(), 5000, 0);
	});
	close(fd);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(tgt_), src);
	EXPECT_NE(access(ckpt.c_str(), F_OK), 0);
}

// The copies made while hashing keep to the run's rate limit: a lower bound
// on the time (the bucket holds two requests), never an upper one.
TEST_F(Digest, CopiesKeepToTheRateLimit)
{
	expect_copies_keep_to([](resync *r) { resync_set_rate_limit(r, RATE); });
}

// A rate-limit group's limit replaces the handle's own for those copies too
// (resync.h): unlimited on its own, the handle keeps to its group's.  The
// same lower bound, never an upper one.
TEST_F(Digest, CopiesKeepToTheRateGroupsLimit)
{
	resync_rate_group *g;
	ASSERT_EQ(resync_rate_group_new(&g, RATE), 0);
	expect_copies_keep_to([&](resync *r) { resync_set_rate_group(r, g); });
	resync_rate_group_free(g);
}

TEST_F(Digest, WrongBlockSizeIsRefused)
{
	std::string s = make_stream("s4k.dg", src_, 0, 4096);
	RunResult res = run_with(s);
	EXPECT_EQ(res.ret, -EINVAL);
	EXPECT_NE(res.error.find("block size 4096 but this compare uses 65536"), std::string::npos)
		<< res.error;
	EXPECT_EQ(rt::sha256(tgt_), before_);
}

TEST_F(Digest, XxhStreamNeedsToBeAskedFor)
{
	std::string s = make_stream("x.dg", src_, RESYNC_DIGEST_XXH3_128);
	RunResult res = run_with(s);
	EXPECT_EQ(res.ret, -EPERM) << res.error;
	EXPECT_EQ(rt::sha256(tgt_), before_);
	res = run_with(s, RESYNC_DIGEST_HASH_XXH3_128);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(tgt_), rt::read_file(src_));
}

TEST_F(Digest, NeedsCompareModeAndValidOptions)
{
	RunResult res = run_engine(src_, tgt_, RESYNC_FULL, nullptr, 0, [&](resync *r) {
		EXPECT_EQ(resync_set_digest_source(r, 0, nullptr), 0);
	});
	EXPECT_EQ(res.ret, -EINVAL);
	EXPECT_NE(res.error.find("the mode must be compare"), std::string::npos) << res.error;
	resync *r = resync_new();
	resync_digest_opts small{ sizeof(resync_digest_opts) - 1, 0, 0, 0 };
	resync_digest_opts flags{ sizeof(resync_digest_opts), 0, 1, 0 };
	resync_digest_opts hash{ sizeof(resync_digest_opts), 3, 0, 0 };
	EXPECT_EQ(resync_set_digest_source(r, 0, &small), -EINVAL);
	EXPECT_EQ(resync_set_digest_source(r, 0, &flags), -EINVAL);
	EXPECT_EQ(resync_set_digest_source(r, 0, &hash), -EINVAL);
	EXPECT_EQ(resync_set_digest_source(r, -2, nullptr), -EINVAL);
	EXPECT_EQ(resync_digest_write(r, 1, nullptr), -EINVAL); // no source
	resync_free(r);
}

} // namespace
