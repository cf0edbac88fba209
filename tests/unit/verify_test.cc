// SPDX-License-Identifier: MIT
// Verify after the copy: what it re-reads (planned blocks, a random sample of
// the others, or everything) and what it reports when a change record missed
// a changed block.  The disks are small enough, and the sample large enough,
// that a sample covers every unplanned block: no test depends on luck.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <cstring>
#include <unistd.h>
#include <resync/resync.h>
#include "engine_util.h"
#include "testutil.h"

namespace {

constexpr uint64_t MiB = 1 << 20;
constexpr uint64_t Blk = 64 * 1024;
constexpr uint64_t NBlocks = 64; // 4 MiB, a whole number of blocks

struct Verify : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), bm = tmp.path("bm");
	rt::Bytes src = rt::random_bytes(NBlocks * Blk, 21);
	rt::Bytes dst = src;
	std::vector<uint64_t> changed = { 1, 7, 8, 30 };

	void SetUp() override
	{
		for (uint64_t b : changed)
			dst[b * Blk + 333] ^= 0x55;
		rt::write_file(s, src);
	}

	// The target, the changed blocks plus `missed` ones the bitmap omits.
	void make_target(const std::vector<uint64_t> &missed = {})
	{
		rt::Bytes t = dst;
		for (uint64_t b : missed)
			t[b * Blk + 4000] ^= 0x0f;
		rt::write_file(d, t);
		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_new(&b, src.size(), Blk), 0);
		for (uint64_t blk : changed)
			ASSERT_EQ(resync_bitmap_mark(b, blk * Blk, Blk), 0);
		ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
		resync_bitmap_free(b);
	}

	RunResult run(resync_verify how, uint32_t per_gib, uint32_t min, uint64_t flags = 0)
	{
		return run_engine(s, d, RESYNC_BITMAP, bm.c_str(), flags, [&](resync *r) {
			ASSERT_EQ(resync_set_block_size(r, Blk), 0);
			ASSERT_EQ(resync_set_verify(r, how, per_gib, min), 0);
		});
	}
};

TEST_F(Verify, SetVerifyRejectsUnknownMode)
{
	resync *r = resync_new();
	EXPECT_EQ(resync_set_verify(r, (resync_verify)4, 16, 256), -EINVAL);
	EXPECT_EQ(resync_set_verify(r, (resync_verify)-1, 16, 256), -EINVAL);
	EXPECT_EQ(resync_set_verify(r, RESYNC_VERIFY_SAMPLE, 0, 0), 0);
	EXPECT_EQ(resync_set_verify(nullptr, RESYNC_VERIFY_NONE, 16, 256), -EINVAL);
	resync_free(r);
}

TEST_F(Verify, SampleCatchesABlockTheBitmapMissed)
{
	ASSERT_NO_FATAL_FAILURE(make_target({ 50 }));
	// 60 unplanned blocks, at least 1000 sampled: every one of them.
	RunResult r = run(RESYNC_VERIFY_SAMPLE, 16, 1000);
	ASSERT_EQ(r.ret, -EILSEQ) << r.error;
	EXPECT_EQ(r.st.verify_unplanned_diff, 1u);
	EXPECT_EQ(r.error_offset, 50 * Blk + 4000);
	EXPECT_NE(r.error.find("change record"), std::string::npos) << r.error;
	// The planned blocks were copied all the same.
	EXPECT_EQ(r.st.bytes_written, changed.size() * Blk);
}

TEST_F(Verify, SampleOfACorrectBitmapReadsPlannedPlusSample)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	// 16 per GiB of 4 MiB rounds up to 1, raised to the minimum of 5.
	RunResult r = run(RESYNC_VERIFY_SAMPLE, 16, 5);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.verify_unplanned_diff, 0u);
	EXPECT_EQ(r.st.bytes_verified, (changed.size() + 5) * Blk);
	EXPECT_LT(r.st.bytes_verified, src.size() / 4);
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Verify, SampleIsCappedByTheUnplannedBlocks)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	RunResult r = run(RESYNC_VERIFY_SAMPLE, UINT32_MAX, 0);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_verified, src.size());
}

TEST_F(Verify, PlannedReadsOnlyThePlanAndMissesWhatItDoesNotName)
{
	ASSERT_NO_FATAL_FAILURE(make_target({ 50 }));
	RunResult r = run(RESYNC_VERIFY_PLANNED, 16, 1000);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_verified, changed.size() * Blk);
	EXPECT_EQ(r.st.verify_unplanned_diff, 0u);
}

TEST_F(Verify, FullReadsEverythingAndFlagsTheMissedBlock)
{
	ASSERT_NO_FATAL_FAILURE(make_target({ 3, 50 }));
	RunResult r = run(RESYNC_VERIFY_FULL, 0, 0);
	ASSERT_EQ(r.ret, -EILSEQ) << r.error;
	EXPECT_EQ(r.st.verify_unplanned_diff, 1u);
	EXPECT_EQ(r.error_offset, 3 * Blk + 4000);
}

TEST_F(Verify, VerifyFlagMeansFull)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	RunResult r = run(RESYNC_VERIFY_NONE, 0, 0, RESYNC_F_VERIFY);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_verified, src.size());
}

TEST_F(Verify, NoneVerifiesNothing)
{
	ASSERT_NO_FATAL_FAILURE(make_target({ 50 }));
	RunResult r = run(RESYNC_VERIFY_NONE, 16, 1000);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_verified, 0u);
}

// Verify of the planned blocks reads only the target: the copy digested the
// source data it read (XXH3-128), so the run reads the planned bytes twice
// (source while copying, target while verifying), not three times.
TEST_F(Verify, PlannedBlocksAreVerifiedAgainstTheCopysDigests)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	RunResult r = run(RESYNC_VERIFY_PLANNED, 0, 0);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_verified, changed.size() * Blk);
	EXPECT_EQ(r.st.bytes_read, 2 * changed.size() * Blk);
	EXPECT_TRUE(rt::read_file(d) == src);
}

// The sample outside the plan still reads both sides: 5 sampled blocks.
TEST_F(Verify, SampleOutsideThePlanReadsBothSides)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	RunResult r = run(RESYNC_VERIFY_SAMPLE, 16, 5);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_read, (2 * changed.size() + 2 * 5) * Blk);
}

struct Corrupt {
	std::string path;
	uint64_t off;
	bool done;
};

// Entering the verify phase (the copy is flushed): a real write to the target
// file, as a failing disk or another writer would make.
void corrupt_at_verify(const resync_stats *st, void *arg)
{
	auto *c = static_cast<Corrupt *>(arg);
	if (st->phase != RESYNC_PHASE_VERIFY || c->done)
		return;
	c->done = true;
	int fd = open(c->path.c_str(), O_WRONLY);
	char junk[100];
	memset(junk, 0xa5, sizeof junk);
	bool ok = fd >= 0 && pwrite(fd, junk, sizeof junk, (off_t)c->off) == (ssize_t)sizeof junk;
	if (fd >= 0)
		ok = !fsync(fd) && ok;
	if (fd >= 0)
		close(fd);
	if (!ok)
		abort();
}

// The target is changed after the copy in a planned block: the digest of what
// the copy read from the source no longer matches it, and verify fails naming
// the block's start (a digest tells the block, not the byte).
TEST_F(Verify, DigestCatchesATargetChangedAfterTheCopy)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	Corrupt c{ d, 8 * Blk + 1000, false };
	RunResult r = run_engine(s, d, RESYNC_BITMAP, bm.c_str(), 0, [&](resync *h) {
		ASSERT_EQ(resync_set_block_size(h, Blk), 0);
		ASSERT_EQ(resync_set_verify(h, RESYNC_VERIFY_PLANNED, 0, 0), 0);
		resync_set_progress(h, corrupt_at_verify, &c, 1000);
	});
	ASSERT_TRUE(c.done);
	ASSERT_EQ(r.ret, -EILSEQ) << r.error;
	EXPECT_EQ(r.error_offset, 8 * Blk);
	EXPECT_EQ(r.st.bytes_differing, Blk);
	EXPECT_EQ(r.st.verify_unplanned_diff, 0u);
	EXPECT_EQ(r.st.bytes_read, 2 * changed.size() * Blk);
}

void cancel_when_copying(const resync_stats *st, void *arg)
{
	if (st->phase == RESYNC_PHASE_COPY)
		resync_cancel(static_cast<resync *>(arg));
}

// A resumed run verifies what the first run retired as planned blocks too.
TEST_F(Verify, ResumedRunCountsEarlierBlocksAsPlanned)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	std::string ck = tmp.path("ck");
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, src.size(), Blk), 0);
	ASSERT_EQ(resync_bitmap_mark(b, 30 * Blk, Blk), 0);
	resync_bitmap_free(b);
	// A first run paused from the start and cancelled once copying leaves
	// its checkpoint with every planned block; copy blocks 1, 7, 8 by
	// hand and keep only 30.
	RunResult first = run_engine(s, d, RESYNC_BITMAP, bm.c_str(), 0, [&](resync *r) {
		ASSERT_EQ(resync_set_block_size(r, Blk), 0);
		ASSERT_EQ(resync_set_checkpoint(r, ck.c_str(), 0, 0), 0);
		resync_pause(r, 1);
		resync_set_progress(r, cancel_when_copying, r, 1);
	});
	ASSERT_EQ(first.ret, -ECANCELED) << first.error;
	ASSERT_EQ(resync_bitmap_load(&b, ck.c_str()), 0);
	for (uint64_t blk : { 1, 7, 8 }) {
		ASSERT_EQ(resync_bitmap_clear(b, blk * Blk, Blk), 0);
		rt::pwrite_at(d, blk * Blk,
			      rt::Bytes(src.begin() + blk * Blk, src.begin() + (blk + 1) * Blk));
	}
	ASSERT_EQ(resync_bitmap_save(b, ck.c_str()), 0);
	resync_bitmap_free(b);
	RunResult r = run_engine(s, d, RESYNC_BITMAP, bm.c_str(), 0, [&](resync *h) {
		ASSERT_EQ(resync_set_block_size(h, Blk), 0);
		ASSERT_EQ(resync_set_checkpoint(h, ck.c_str(), 0, 0), 0);
		ASSERT_EQ(resync_set_verify(h, RESYNC_VERIFY_PLANNED, 0, 0), 0);
	});
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.resumed, 1u);
	EXPECT_EQ(r.st.bytes_written, Blk);
	EXPECT_EQ(r.st.bytes_verified, changed.size() * Blk);
	EXPECT_TRUE(rt::read_file(d) == src);
}

// Without getrandom the sample cannot be random: the run fails, before
// anything is written, rather than verify a sample every run picks alike.
TEST_F(Verify, FailedGetrandomFailsTheRun)
{
	ASSERT_NO_FATAL_FAILURE(make_target());
	std::string shim = rt::bin_dir() + "/../tests/shim/getrandom_fail.so";
	ASSERT_EQ(access(shim.c_str(), R_OK), 0) << shim << " is not built (make all)";
	std::string out;
	int rc = rt::sh("LD_PRELOAD='" + shim + "' ASAN_OPTIONS=verify_asan_link_order=0 '" +
				rt::bin_dir() + "/resync' copy '" + s + "' '" + d + "' --bitmap '" +
				bm + "' --verify=sample",
			&out);
	EXPECT_EQ(rc, 1) << out;
	EXPECT_NE(out.find("verify: getrandom for the sample: Function not implemented"),
		  std::string::npos)
		<< out;
	EXPECT_TRUE(rt::read_file(d) == dst) << "the target was written before the failure";
}

} // namespace
