// SPDX-License-Identifier: MIT
// Only what differs is written: change records, compare mode, zero ranges
// and holes.  The target carries "decoys" (bytes that differ from the source
// outside the change record): a copy that overwrote unchanged blocks would
// erase them.
#include <gtest/gtest.h>
#include <fstream>
#include <resync/resync.h>
#include "engine_util.h"
#include "testutil.h"

namespace {

constexpr uint64_t MiB = 1 << 20;
constexpr uint64_t Blk = 64 * 1024;

struct Delta : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst");
	rt::Bytes src = rt::random_bytes(8 * MiB + 5000, 11);
	rt::Bytes dst = src;
	// Blocks the change record names, and where the target is changed.
	std::vector<uint64_t> changed = { 0, 3, 17, 18, 19, 64, 128 };
	std::vector<uint64_t> decoys = { 5, 40, 100 };

	// Block 128 is the short last one.
	uint64_t len(uint64_t blk) const
	{
		return std::min<uint64_t>(Blk, src.size() - blk * Blk);
	}
	uint64_t sum(const std::vector<uint64_t> &blks) const
	{
		uint64_t n = 0;
		for (uint64_t b : blks)
			n += len(b);
		return n;
	}

	void SetUp() override
	{
		for (uint64_t b : changed)
			dst[b * Blk + 100] ^= 1;
		for (uint64_t b : decoys)
			dst[b * Blk + 7] ^= 1;
		rt::write_file(s, src);
		rt::write_file(d, dst);
	}

	// A change bitmap at the block size naming exactly the changed blocks.
	void save_changed_bitmap(const std::string &path)
	{
		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_new(&b, src.size(), Blk), 0);
		for (uint64_t blk : changed)
			ASSERT_EQ(resync_bitmap_mark(b, blk * Blk, len(blk)), 0);
		ASSERT_EQ(resync_bitmap_save(b, path.c_str()), 0);
		resync_bitmap_free(b);
	}

	// The target after the copy: equal to the source except at the decoys.
	void expect_decoys_kept()
	{
		rt::Bytes out = rt::read_file(d);
		rt::Bytes want = src;
		for (uint64_t b : decoys)
			want[b * Blk + 7] ^= 1;
		EXPECT_TRUE(out == want)
			<< "unchanged blocks were rewritten, or changed ones missed";
	}
};

TEST_F(Delta, BitmapWritesExactlyTheChangedBlocks)
{
	std::string bm = tmp.path("bm");
	ASSERT_NO_FATAL_FAILURE(save_changed_bitmap(bm));
	RunResult r = run_engine(s, d, RESYNC_BITMAP, bm.c_str());
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_planned, sum(changed));
	EXPECT_EQ(r.st.bytes_written, sum(changed));
	EXPECT_EQ(r.st.bytes_read, sum(changed));
	expect_decoys_kept();
}

TEST_F(Delta, FineGrainedBitmapWritesItsOwnGranularity)
{
	std::string bm = tmp.path("bm");
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, src.size(), 4096), 0);
	for (uint64_t blk : changed)
		ASSERT_EQ(resync_bitmap_mark(b, blk * Blk + 100, 1), 0);
	ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
	resync_bitmap_free(b);
	RunResult r = run_engine(s, d, RESYNC_BITMAP, bm.c_str());
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, changed.size() * 4096);
	expect_decoys_kept();
}

TEST_F(Delta, ExtentListWritesItsBlocksOnly)
{
	std::string ext = tmp.path("ext");
	{
		std::ofstream f(ext);
		for (uint64_t blk : changed)
			f << blk * Blk + 100 << " 1\n";
	}
	RunResult r = run_engine(s, d, RESYNC_EXTENTS, ext.c_str(), 0,
				 [](resync *h) { ASSERT_EQ(resync_set_block_size(h, 4096), 0); });
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, changed.size() * 4096);
	expect_decoys_kept();
}

TEST_F(Delta, CompareWritesOnlyDifferingBlocks)
{
	RunResult r = run_engine(s, d, RESYNC_COMPARE);
	ASSERT_EQ(r.ret, 0) << r.error;
	uint64_t differing = sum(changed) + sum(decoys);
	EXPECT_EQ(r.st.bytes_written, differing);
	EXPECT_EQ(r.st.bytes_differing, differing);
	EXPECT_EQ(r.st.bytes_skipped_equal, src.size() - differing);
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Delta, DryRunCompareCountsAndWritesNothing)
{
	std::string before = rt::sha256(d);
	RunResult r = run_engine(s, d, RESYNC_COMPARE, nullptr, RESYNC_F_DRY_RUN);
	EXPECT_EQ(r.ret, -EILSEQ);
	EXPECT_EQ(r.error_offset, 0 * Blk + 100);
	EXPECT_EQ(r.st.bytes_differing, sum(changed) + sum(decoys));
	EXPECT_EQ(r.st.bytes_written, 0u);
	EXPECT_EQ(rt::sha256(d), before);
}

TEST_F(Delta, VerifyFindsTheFirstDifferenceAfterABitmapThatMissedBlocks)
{
	// The record names only the changed blocks: verify sees the decoys.
	std::string bm = tmp.path("bm");
	ASSERT_NO_FATAL_FAILURE(save_changed_bitmap(bm));
	RunResult r = run_engine(s, d, RESYNC_BITMAP, bm.c_str(), RESYNC_F_VERIFY);
	EXPECT_EQ(r.ret, -EILSEQ);
	EXPECT_EQ(r.error_offset, decoys[0] * Blk + 7);
	EXPECT_NE(r.error.find("first difference at offset 327687"), std::string::npos) << r.error;
}

// A sparse source onto a thick (fully allocated) target: the holes become
// zeroes without data writes, and the target keeps every allocated block.
TEST(Zero, ThickTargetStaysAllocated)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d");
	rt::sparse_file(s, 64 * MiB);
	rt::Bytes data = rt::random_bytes(2 * MiB, 3);
	rt::pwrite_at(s, 10 * MiB, data);
	rt::write_file(d, rt::random_bytes(64 * MiB, 4));
	uint64_t allocated = rt::allocated_bytes(d);
	ASSERT_GE(allocated, 64 * MiB);
	RunResult r = run_engine(s, d);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_read, 2 * MiB) << "holes were read";
	EXPECT_EQ(r.st.bytes_written, 2 * MiB);
	EXPECT_EQ(r.st.bytes_zeroed, 62 * MiB);
	// (Zeroing may split extents: a block of file system metadata more.)
	EXPECT_GE(rt::allocated_bytes(d), allocated) << "zeroing deallocated the thick target";
	EXPECT_TRUE(rt::read_file(d) == rt::read_file(s));
}

// Only RESYNC_F_ALLOW_TRIM lets the holes become holes.
TEST(Zero, AllowTrimDeallocates)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d");
	rt::sparse_file(s, 16 * MiB);
	rt::pwrite_at(s, 10 * MiB, rt::random_bytes(2 * MiB, 3));
	rt::write_file(d, rt::random_bytes(16 * MiB, 4));
	RunResult r = run_engine(s, d, RESYNC_FULL, nullptr, RESYNC_F_ALLOW_TRIM);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, 2 * MiB);
	EXPECT_EQ(r.st.bytes_zeroed, 14 * MiB);
	EXPECT_LE(rt::allocated_bytes(d), 3 * MiB) << "zero ranges were not deallocated";
	EXPECT_TRUE(rt::read_file(d) == rt::read_file(s));
}

// Allocated zeroes in the source are zeroes too: the same policy applies.
TEST(Zero, ZeroBlocksOfAnAllocatedSourceKeepTheTargetAllocated)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d");
	rt::Bytes src(16 * MiB, 0);
	rt::Bytes rnd = rt::random_bytes(MiB, 6);
	std::copy(rnd.begin(), rnd.end(), src.begin() + 4 * MiB);
	rt::write_file(s, src);
	rt::write_file(d, rt::random_bytes(16 * MiB, 7));
	uint64_t allocated = rt::allocated_bytes(d);
	RunResult r = run_engine(s, d);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_zeroed, 15 * MiB);
	EXPECT_GE(rt::allocated_bytes(d), allocated);
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST(Zero, TargetHolesAreNotRezeroed)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d");
	rt::sparse_file(s, 32 * MiB);
	rt::pwrite_at(s, MiB, rt::random_bytes(MiB, 5));
	rt::sparse_file(d, 32 * MiB);
	RunResult r = run_engine(s, d);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_zeroed, 0u);
	EXPECT_EQ(r.st.bytes_skipped_zero, 31 * MiB);
	EXPECT_EQ(r.st.bytes_written, MiB);
	EXPECT_TRUE(rt::read_file(d) == rt::read_file(s));
}

TEST(Zero, ZeroDataInAnAllocatedSourceIsDetected)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d");
	rt::Bytes src(16 * MiB, 0);
	rt::Bytes rnd = rt::random_bytes(MiB, 6);
	std::copy(rnd.begin(), rnd.end(), src.begin() + 4 * MiB);
	rt::write_file(s, src); // allocated zeroes, no holes
	rt::write_file(d, rt::random_bytes(16 * MiB, 7));
	RunResult r = run_engine(s, d);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, MiB);
	EXPECT_EQ(r.st.bytes_zeroed, 15 * MiB);
	EXPECT_TRUE(rt::read_file(d) == src);
	// With detection off every byte is data.
	rt::write_file(d, rt::random_bytes(16 * MiB, 8));
	r = run_engine(s, d, RESYNC_FULL, nullptr, RESYNC_F_NO_ZERO_DETECT);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, 16 * MiB);
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST(Zero, LoopDeviceTargetIsZeroedWithoutDataWrites)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d");
	rt::sparse_file(s, 16 * MiB);
	rt::pwrite_at(s, 0, rt::random_bytes(MiB, 8));
	rt::write_file(d, rt::random_bytes(16 * MiB, 9));
	rt::LoopDevice ld(d);
	if (!ld.ok()) {
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	}
	uint64_t allocated = rt::allocated_bytes(d);
	RunResult r = run_engine(s, ld.dev());
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, MiB);
	EXPECT_EQ(r.st.bytes_zeroed, 15 * MiB);
	rt::Bytes out = rt::read_file(ld.dev());
	EXPECT_TRUE(out == rt::read_file(s));
	// Zeroing a block device unmapped nothing: the loop file stays thick.
	EXPECT_GE(rt::allocated_bytes(d), allocated) << "zeroing deallocated the device's blocks";

	// With RESYNC_F_ALLOW_TRIM the loop driver punches its file.
	rt::pwrite_at(ld.dev(), 8 * MiB, rt::random_bytes(4 * MiB, 12));
	ASSERT_EQ(rt::sh("sync"), 0);
	r = run_engine(s, ld.dev(), RESYNC_FULL, nullptr, RESYNC_F_ALLOW_TRIM);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_TRUE(rt::read_file(ld.dev()) == rt::read_file(s));
	EXPECT_LE(rt::allocated_bytes(d), 2 * MiB) << "ALLOW_TRIM did not deallocate";
}

// ramfs takes neither punch hole nor zero range: zeroing falls back to
// writing zeroes, and the result is still exact.
TEST(Zero, TargetRefusingFallocateGetsZeroWrites)
{
	rt::TempDir tmp;
	std::string dir = tmp.path("ramfs");
	ASSERT_EQ(rt::sh("mkdir " + dir + " && mount -t ramfs none " + dir), 0);
	std::string s = tmp.path("s"), d = dir + "/d";
	rt::sparse_file(s, 8 * MiB + 100);
	rt::pwrite_at(s, 2 * MiB, rt::random_bytes(MiB, 10));
	rt::write_file(d, rt::random_bytes(8 * MiB + 100, 11));
	RunResult r = run_engine(s, d);
	rt::Bytes out = rt::read_file(d);
	// The engine holds nothing open once it returned: an immediate umount works.
	EXPECT_EQ(rt::sh("umount " + dir), 0) << "the file system is still busy after the copy";
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, MiB);
	EXPECT_EQ(r.st.bytes_zeroed, 7 * MiB + 100);
	EXPECT_TRUE(out == rt::read_file(s));
}

} // namespace
