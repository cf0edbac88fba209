// SPDX-License-Identifier: MIT
// Compare and verify between two nbdkit exports of a 1 TiB sparse pair: the
// answer comes from reading only what either side's base:allocation reports
// as data.  The bytes read are counted twice: by the engine, and by nbdkit's
// log filter on each server, which sees every read request that arrives.
#include <gtest/gtest.h>
#include <algorithm>
#include <fstream>
#include <resync/resync.h>
#include "servers.h"
#include "sparse.h"

namespace {

constexpr uint64_t MiB = 1 << 20, GiB = 1ull << 30, TiB = 1ull << 40;
constexpr uint64_t A = 1 * GiB, B = 300 * GiB, C = TiB - MiB;
constexpr uint64_t Common = 4 * MiB;
constexpr uint64_t OnlySrc = 500 * GiB, OnlyDst = 700 * GiB;
constexpr uint64_t Verify = RESYNC_F_DRY_RUN | RESYNC_F_FIRST_DIFF;

class NbdSparsePair : public nbdt::LoggedPair {
protected:
	void SetUp() override
	{
		rt::sparse_file(s_, TiB);
		rt::sparse_file(d_, TiB);
		for (auto [off, len, seed] :
		     { std::tuple{ A, 2 * MiB, 1 }, { B, MiB, 2 }, { C, MiB, 3 } }) {
			rt::Bytes data = rt::random_bytes(len, seed);
			rt::pwrite_at(s_, off, data);
			rt::pwrite_at(d_, off, data);
		}
	}

	// The servers are stopped first, so their logs are complete.
	void stop()
	{
		src_->stop();
		dst_->stop();
	}

	nbdt::Result run(uint64_t flags)
	{
		return run_engine(src_->uri(), dst_->uri(), RESYNC_COMPARE, nullptr, flags);
	}

	// The requests of one kind ("Read", "Extents") in an nbdkit log filter's
	// log: how many, and their bytes.
	static std::pair<uint64_t, uint64_t> requests(const std::string &log,
						      const std::string &kind)
	{
		std::ifstream in(log);
		std::string line;
		uint64_t n = 0, bytes = 0;
		while (std::getline(in, line)) {
			// Requests, not the "...Read" reply lines.
			if (line.find(" " + kind + " id=") == std::string::npos)
				continue;
			n++;
			auto at = line.find("count=");
			EXPECT_NE(at, std::string::npos) << line;
			if (at != std::string::npos)
				bytes += std::stoull(line.substr(at + 6), nullptr, 0);
		}
		return { n, bytes };
	}
	static uint64_t bytes_read(const std::string &log)
	{
		return requests(log, "Read").second;
	}
};

TEST_F(NbdSparsePair, VerifyOfAnEqualPairReadsOnlyTheData)
{
	ASSERT_NO_FATAL_FAILURE(serve());
	nbdt::Result r = run(Verify);
	stop();
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_read, 2 * Common);
	EXPECT_EQ(r.st.bytes_skipped_zero, TiB - Common);
	EXPECT_EQ(bytes_read(slog_), Common);
	EXPECT_EQ(bytes_read(dlog_), Common);
}

TEST_F(NbdSparsePair, ADifferenceInsideDataIsFound)
{
	rt::pwrite_at(d_, C + 4097, { 0x77 });
	ASSERT_NO_FATAL_FAILURE(serve());
	nbdt::Result r = run(Verify);
	stop();
	ASSERT_EQ(r.ret, -EILSEQ) << r.error;
	EXPECT_EQ(r.error_offset, C + 4097);
	EXPECT_LE(bytes_read(slog_), Common);
	EXPECT_LE(bytes_read(dlog_), Common);
}

// Zeroes written on one side against a hole on the other are equal: each
// server is asked only for its own data.
TEST_F(NbdSparsePair, ZeroDataAgainstAHoleIsEqual)
{
	rt::pwrite_at(s_, OnlySrc, rt::Bytes(MiB, 0));
	rt::pwrite_at(d_, OnlyDst, rt::Bytes(MiB, 0));
	ASSERT_NO_FATAL_FAILURE(serve());
	nbdt::Result r = run(Verify);
	stop();
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(bytes_read(slog_), Common + MiB);
	EXPECT_EQ(bytes_read(dlog_), Common + MiB);
	EXPECT_EQ(r.st.bytes_read, 2 * Common + 2 * MiB);
}

// Data against a hole differs; a compare copy writes the source's data and
// zeroes the target's, after which the files are identical wherever either
// holds data and both holes elsewhere.
TEST_F(NbdSparsePair, DataAgainstAHoleIsFixedByACompare)
{
	rt::Bytes only_src = rt::random_bytes(MiB, 4);
	rt::pwrite_at(s_, OnlySrc, only_src);
	rt::pwrite_at(d_, OnlyDst, rt::random_bytes(MiB, 5));
	ASSERT_NO_FATAL_FAILURE(serve());
	nbdt::Result v = run(Verify);
	ASSERT_EQ(v.ret, -EILSEQ) << v.error;
	uint64_t first =
		std::find_if(only_src.begin(), only_src.end(), [](uint8_t b) { return b; }) -
		only_src.begin();
	EXPECT_EQ(v.error_offset, OnlySrc + first);
	stop();
	ASSERT_NO_FATAL_FAILURE(serve());
	nbdt::Result fix = run(0);
	stop();
	ASSERT_EQ(fix.ret, 0) << fix.error;
	EXPECT_EQ(fix.st.bytes_written, MiB);
	EXPECT_EQ(fix.st.bytes_zeroed, MiB);
	EXPECT_EQ(fix.st.bytes_read, 2 * Common + 2 * MiB);
	EXPECT_EQ(bytes_read(slog_), Common + MiB);
	EXPECT_EQ(bytes_read(dlog_), Common + MiB);
	EXPECT_EQ(rt::first_difference(s_, d_), UINT64_MAX);
}

// Verify after a bitmap copy asks each server for the allocation of the
// plan and a sample of 16 blocks per GiB (16384 single blocks here) in
// queries of up to 1 GiB, not one round trip per sampled block.
TEST_F(NbdSparsePair, VerifySampleAllocationIsAskedPerGiB)
{
	rt::pwrite_at(d_, B, rt::random_bytes(MiB, 7));
	std::string bm = tmp_.path("bm");
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, TiB, 64 << 10), 0);
	ASSERT_EQ(resync_bitmap_mark(b, B, MiB), 0);
	ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
	resync_bitmap_free(b);
	ASSERT_NO_FATAL_FAILURE(serve());
	nbdt::Result r =
		nbdt::copy(src_->uri(), dst_->uri(), RESYNC_BITMAP, bm.c_str(),
			   [](resync *h) { resync_set_verify(h, RESYNC_VERIFY_SAMPLE, 16, 256); });
	stop();
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_verified, MiB + 16384 * (64 << 10));
	// The copy reads B from the source; verify B on the target only (the
	// copy digested the source's) and whatever of the sample hit data on
	// both sides (at most the rest of the common data).
	EXPECT_GE(bytes_read(slog_), MiB);
	EXPECT_LE(bytes_read(slog_), MiB + Common);
	EXPECT_GE(bytes_read(dlog_), MiB);
	EXPECT_EQ(rt::first_difference(s_, d_), UINT64_MAX);
	for (const std::string &log : { slog_, dlog_ }) {
		auto [queries, bytes] = requests(log, "Extents");
		EXPECT_LE(queries, TiB / GiB + 16) << log;
		EXPECT_LE(bytes, 2 * TiB) << log;
	}
}

} // namespace
