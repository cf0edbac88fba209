// SPDX-License-Identifier: MIT
// Compare and verify of a 1 TiB sparse pair holding a few MiB of data: the
// right answer (a difference inside data, zero data against a hole, data
// against a hole) from reading only where a side holds data, and memory
// bounded as in a copy.  Ranges both sides hold as holes must cost nothing:
// reading them would take minutes here.
#include <gtest/gtest.h>
#include <algorithm>
#include <resync/resync.h>
#include "engine_util.h"
#include "sparse.h"
#include "testutil.h"

namespace {

constexpr uint64_t KiB = 1 << 10, MiB = 1 << 20, GiB = 1ull << 30, TiB = 1ull << 40;
constexpr uint64_t Blk = 64 * KiB;
// The data both sides hold alike: at 1 GiB, at 300 GiB and the last MiB.
constexpr uint64_t A = 1 * GiB, B = 300 * GiB, C = TiB - MiB;
constexpr uint64_t Common = 4 * MiB;
// Where only one side holds data.
constexpr uint64_t OnlySrc = 500 * GiB, OnlyDst = 700 * GiB;

constexpr uint64_t Compare = RESYNC_F_DRY_RUN;
constexpr uint64_t Verify = RESYNC_F_DRY_RUN | RESYNC_F_FIRST_DIFF;

struct SparsePair : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst");

	void SetUp() override
	{
		rt::sparse_file(s, TiB);
		rt::sparse_file(d, TiB);
		for (auto [off, len, seed] :
		     { std::tuple{ A, 2 * MiB, 1 }, { B, MiB, 2 }, { C, MiB, 3 } }) {
			rt::Bytes data = rt::random_bytes(len, seed);
			rt::pwrite_at(s, off, data);
			rt::pwrite_at(d, off, data);
		}
	}

	RunResult compare(uint64_t flags, resync_mode mode = RESYNC_COMPARE)
	{
		return run_engine(s, d, mode, nullptr, flags);
	}

	// Bytes the file system holds as data, which is all a read may cost.
	static uint64_t data_bytes(const std::string &path)
	{
		uint64_t n = 0;
		for (auto [off, len] : rt::data_extents(path))
			n += len;
		return n;
	}
};

TEST_F(SparsePair, EqualPairIsReadOnlyWhereItHoldsData)
{
	ASSERT_EQ(data_bytes(s), Common);
	for (uint64_t flags : { Compare, Verify }) {
		RunResult r = compare(flags);
		ASSERT_EQ(r.ret, 0) << r.error;
		EXPECT_EQ(r.st.bytes_read, 2 * Common);
		EXPECT_EQ(r.st.bytes_skipped_equal, Common);
		EXPECT_EQ(r.st.bytes_skipped_zero, TiB - Common);
		EXPECT_EQ(r.st.bytes_differing, 0u);
	}
}

TEST_F(SparsePair, ADifferenceInsideDataIsFoundAndFixed)
{
	rt::pwrite_at(d, B + 12345, { 0x5a });
	RunResult v = compare(Verify);
	ASSERT_EQ(v.ret, -EILSEQ) << v.error;
	EXPECT_EQ(v.error_offset, B + 12345);
	EXPECT_LE(v.st.bytes_read, 2 * Common);

	RunResult c = compare(Compare);
	ASSERT_EQ(c.ret, -EILSEQ) << c.error;
	EXPECT_EQ(c.st.bytes_differing, Blk);
	EXPECT_EQ(c.st.bytes_read, 2 * Common);

	RunResult fix = compare(0);
	ASSERT_EQ(fix.ret, 0) << fix.error;
	EXPECT_EQ(fix.st.bytes_written, Blk);
	EXPECT_EQ(fix.st.bytes_zeroed, 0u);
	EXPECT_EQ(fix.st.bytes_read, 2 * Common);
	EXPECT_EQ(rt::first_difference(s, d), UINT64_MAX);
}

// Zeroes written as data on one side equal a hole on the other: only the
// data side is read, and nothing is written.
TEST_F(SparsePair, ZeroDataAgainstAHoleIsEqual)
{
	rt::pwrite_at(s, OnlySrc, rt::Bytes(MiB, 0));
	rt::pwrite_at(d, OnlyDst, rt::Bytes(MiB, 0));
	ASSERT_EQ(data_bytes(s), Common + MiB) << "the file system made the zeroes a hole";
	ASSERT_EQ(data_bytes(d), Common + MiB);
	for (uint64_t flags : { Compare, Verify, uint64_t(0) }) {
		RunResult r = compare(flags);
		ASSERT_EQ(r.ret, 0) << r.error;
		EXPECT_EQ(r.st.bytes_read, 2 * Common + 2 * MiB);
		EXPECT_EQ(r.st.bytes_differing, 0u);
		EXPECT_EQ(r.st.bytes_written + r.st.bytes_zeroed, 0u);
	}
}

// Data against a hole differs; a compare copy writes the source's data over
// the target's hole and zeroes the target's data where the source is a hole.
TEST_F(SparsePair, DataAgainstAHoleDiffersAndACompareFixesIt)
{
	rt::Bytes only_src = rt::random_bytes(MiB, 4), only_dst = rt::random_bytes(MiB, 5);
	only_src[0] = only_src[1] = 0;
	rt::pwrite_at(s, OnlySrc, only_src);
	rt::pwrite_at(d, OnlyDst, only_dst);

	RunResult v = compare(Verify);
	ASSERT_EQ(v.ret, -EILSEQ) << v.error;
	uint64_t first =
		std::find_if(only_src.begin(), only_src.end(), [](uint8_t b) { return b; }) -
		only_src.begin();
	EXPECT_EQ(v.error_offset, OnlySrc + first);

	RunResult c = compare(Compare);
	ASSERT_EQ(c.ret, -EILSEQ) << c.error;
	EXPECT_EQ(c.st.bytes_differing, 2 * MiB);
	EXPECT_EQ(c.st.bytes_read, 2 * Common + 2 * MiB);

	RunResult fix = compare(0);
	ASSERT_EQ(fix.ret, 0) << fix.error;
	EXPECT_EQ(fix.st.bytes_read, 2 * Common + 2 * MiB);
	EXPECT_EQ(fix.st.bytes_written, MiB);
	EXPECT_EQ(fix.st.bytes_zeroed, MiB);
	// Identical over every range either side holds as data; both holes
	// elsewhere.
	EXPECT_EQ(rt::first_difference(s, d), UINT64_MAX);
	RunResult again = compare(Verify);
	EXPECT_EQ(again.ret, 0) << again.error;
}

// After a delta copy, verify reads what the copy wrote (both sides) and the
// sample; the sample's blocks that are holes on both sides cost no read, and
// neither does a full verify's hole.
TEST_F(SparsePair, VerifyAfterABitmapCopyReadsOnlyData)
{
	// The target is stale in the common data; the bitmap names it exactly.
	std::string bm = tmp.path("bm");
	auto stale = [&] {
		rt::pwrite_at(d, A, rt::random_bytes(2 * MiB, 6));
		rt::pwrite_at(d, B, rt::random_bytes(MiB, 7));
		rt::pwrite_at(d, C, rt::random_bytes(MiB, 8));
	};
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, TiB, Blk), 0);
	for (auto [off, len] : rt::data_extents(s))
		ASSERT_EQ(resync_bitmap_mark(b, off, len), 0);
	ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
	resync_bitmap_free(b);

	for (resync_verify how : { RESYNC_VERIFY_SAMPLE, RESYNC_VERIFY_FULL }) {
		stale();
		RunResult r = run_engine(s, d, RESYNC_BITMAP, bm.c_str(), 0, [&](resync *h) {
			ASSERT_EQ(resync_set_verify(h, how, 16, 256), 0);
		});
		ASSERT_EQ(r.ret, 0) << r.error;
		// The copy reads the source's data, verify the target's: the
		// source's was digested while copying.
		EXPECT_EQ(r.st.bytes_read, 2 * Common);
		// 16 blocks per GiB of 1 TiB, all outside the plan.
		EXPECT_EQ(r.st.bytes_verified,
			  how == RESYNC_VERIFY_FULL ? TiB : Common + 16 * 1024 * Blk);
		EXPECT_EQ(rt::first_difference(s, d), UINT64_MAX);
	}
}

// resync's peak RSS (getrusage of the process) comparing and verifying the
// 1 TiB pair stays within the copy's bound, 64 MiB.
TEST_F(SparsePair, PeakMemoryIsBounded)
{
#if defined(__SANITIZE_ADDRESS__)
	GTEST_SKIP() << "AddressSanitizer's shadow memory is not resync's";
#endif
	std::string bm = tmp.path("bm");
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, TiB, Blk), 0);
	ASSERT_EQ(resync_bitmap_mark(b, A, 2 * MiB), 0);
	ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
	resync_bitmap_free(b);
	std::string resync = rt::bin_dir() + "/resync";
	for (auto argv : std::vector<std::vector<std::string>>{
		     { resync, "verify", s, d },
		     { resync, "compare", s, d },
		     { resync, "copy", s, d, "--compare", "--verify=full" },
		     { resync, "copy", s, d, "--bitmap", bm, "--verify" } }) {
		int status;
		uint64_t kib = rt::peak_rss_kib(argv, &status);
		EXPECT_EQ(status, 0) << argv[1] << " " << argv.back();
		EXPECT_LE(kib, 64 * 1024) << argv[1] << " " << argv.back();
	}
}

// A block device reports no allocation: its side is read whole, the file's
// side only where it holds data, and the answer is the same.
TEST(SparseBlockDevice, IsReadWhole)
{
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst");
	rt::sparse_file(s, 64 * MiB);
	rt::sparse_file(d, 64 * MiB);
	rt::Bytes data = rt::random_bytes(MiB, 9);
	rt::pwrite_at(s, 8 * MiB, data);
	rt::pwrite_at(d, 8 * MiB, data);
	rt::LoopDevice loop(d);
	if (!loop.ok())
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	RunResult r = run_engine(s, loop.dev(), RESYNC_COMPARE, nullptr, Verify);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_read, MiB + 64 * MiB);
	// A hole of the file against data on the device differs.
	rt::pwrite_at(d, 40 * MiB, { 1 });
	ASSERT_EQ(rt::sh("blockdev --flushbufs " + loop.dev()), 0);
	r = run_engine(s, loop.dev(), RESYNC_COMPARE, nullptr, Verify);
	ASSERT_EQ(r.ret, -EILSEQ) << r.error;
	EXPECT_EQ(r.error_offset, 40 * MiB);
}

} // namespace
