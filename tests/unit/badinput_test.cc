// SPDX-License-Identifier: MIT
// Bad input: a clear error naming the problem, the documented errno, and the
// target left exactly as it was.
#include <gtest/gtest.h>
#include <cstring>
#include <fstream>
#include <resync/resync.h>
#include <resync/change_bitmap.h>
#include "engine_util.h"
#include "testutil.h"

namespace {

constexpr uint64_t Size = 3 * 1048576 + 123;

struct BadInput : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), bm = tmp.path("bm");
	std::string before;

	void SetUp() override
	{
		rt::write_file(s, rt::random_bytes(Size, 1));
		rt::write_file(d, rt::random_bytes(Size, 2));
		before = rt::sha256(d);
	}

	void save_bitmap(uint64_t size)
	{
		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_new(&b, size, 65536), 0);
		ASSERT_EQ(resync_bitmap_mark(b, 0, size), 0);
		ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
		resync_bitmap_free(b);
	}

	void corrupt(size_t off, const void *data, size_t n)
	{
		rt::Bytes f = rt::read_file(bm);
		memcpy(f.data() + off, data, n);
		rt::write_file(bm, f);
	}

	void expect_failure(const RunResult &r, int err, const std::string &words)
	{
		EXPECT_EQ(r.ret, err) << r.error;
		EXPECT_NE(r.error.find(words), std::string::npos) << "message: " << r.error;
		EXPECT_EQ(r.st.bytes_written + r.st.bytes_zeroed, 0u);
		EXPECT_EQ(rt::sha256(d), before) << "the target was modified";
	}
};

TEST_F(BadInput, BitmapWithBadMagic)
{
	save_bitmap(Size);
	corrupt(0, "XXXXXXXX", 8);
	expect_failure(run_engine(s, d, RESYNC_BITMAP, bm.c_str()), -EBADMSG,
		       "change bitmap " + bm + ": bad magic");
}

TEST_F(BadInput, BitmapWithBadChecksum)
{
	save_bitmap(Size);
	rt::Bytes f = rt::read_file(bm);
	f.back() ^= 1;
	rt::write_file(bm, f);
	expect_failure(run_engine(s, d, RESYNC_BITMAP, bm.c_str()), -EBADMSG, "checksum mismatch");
}

TEST_F(BadInput, BitmapForAnotherSize)
{
	save_bitmap(Size + 65536);
	expect_failure(run_engine(s, d, RESYNC_BITMAP, bm.c_str()), -EINVAL, "(wrong size)");
}

TEST_F(BadInput, BitmapGranularityNotAPowerOfTwo)
{
	save_bitmap(Size);
	uint32_t g = 3000;
	corrupt(offsetof(resync_bitmap_header, granularity), &g, 4);
	expect_failure(run_engine(s, d, RESYNC_BITMAP, bm.c_str()), -EINVAL,
		       "granularity is not a power of two");
}

// A valid bitmap coarser than the largest request: the copy cannot use it,
// which is a capability (EOPNOTSUPP), not a bad value.
TEST_F(BadInput, BitmapGranularityCoarserThanARequest)
{
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, Size, 128u << 20), 0);
	ASSERT_EQ(resync_bitmap_mark(b, 0, 4096), 0);
	ASSERT_EQ(resync_bitmap_save(b, bm.c_str()), 0);
	resync_bitmap_free(b);
	expect_failure(run_engine(s, d, RESYNC_BITMAP, bm.c_str()), -EOPNOTSUPP,
		       "granularity 134217728 is coarser than the largest request");
	expect_failure(run_engine(s, d, RESYNC_BITMAP, bm.c_str(), RESYNC_F_CHECK_ONLY),
		       -EOPNOTSUPP, "granularity 134217728");
}

// CHECK_ONLY refuses what a run would refuse, before anything is read or
// written, and accepts a good plan without touching the target.
TEST_F(BadInput, CheckOnlyRefusesUpFrontAndWritesNothing)
{
	std::string ext = tmp.path("ext");
	std::ofstream(ext) << "0 4096\n" << Size - 10 << " 11\n";
	expect_failure(run_engine(s, d, RESYNC_EXTENTS, ext.c_str(), RESYNC_F_CHECK_ONLY), -ERANGE,
		       "passes the source size");
	expect_failure(run_engine(s, d, RESYNC_EXTENTS, tmp.path("nope").c_str(),
				  RESYNC_F_CHECK_ONLY),
		       -ENOENT, "extent list");
	std::ofstream(ext, std::ios::trunc) << "0 4096\n";
	RunResult r = run_engine(s, d, RESYNC_EXTENTS, ext.c_str(), RESYNC_F_CHECK_ONLY);
	EXPECT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_read + r.st.bytes_written + r.st.bytes_zeroed, 0u);
	EXPECT_EQ(rt::sha256(d), before);
}

TEST_F(BadInput, MissingBitmapAndExtentList)
{
	expect_failure(run_engine(s, d, RESYNC_BITMAP, tmp.path("nope").c_str()), -ENOENT,
		       "change bitmap " + tmp.path("nope"));
	expect_failure(run_engine(s, d, RESYNC_EXTENTS, tmp.path("nope").c_str()), -ENOENT,
		       "extent list " + tmp.path("nope") + ": No such file or directory");
}

TEST_F(BadInput, ExtentPastTheSourceEnd)
{
	std::string ext = tmp.path("ext");
	std::ofstream(ext) << "0 4096\n" << Size - 10 << " 11\n";
	expect_failure(run_engine(s, d, RESYNC_EXTENTS, ext.c_str()), -ERANGE,
		       "line 2: extent " + std::to_string(Size - 10) +
			       "+11 passes the source size");
}

TEST_F(BadInput, MalformedExtentLine)
{
	std::string ext = tmp.path("ext");
	std::ofstream(ext) << "0 4096\n\n4096 lots\n";
	expect_failure(run_engine(s, d, RESYNC_EXTENTS, ext.c_str()), -EINVAL,
		       "line 3: the length is not a size");
}

TEST_F(BadInput, TargetSmallerThanSource)
{
	rt::write_file(d, rt::random_bytes(Size - 1, 3));
	before = rt::sha256(d);
	expect_failure(run_engine(s, d), -EINVAL, "is smaller than source");
}

TEST_F(BadInput, MissingSourceAndTarget)
{
	expect_failure(run_engine(tmp.path("none"), d), -ENOENT,
		       "source " + tmp.path("none") + ": No such file or directory");
	expect_failure(run_engine(s, tmp.path("none")), -ENOENT,
		       "target " + tmp.path("none") + ": No such file or directory");
}

TEST_F(BadInput, SameFileTwiceEvenThroughALink)
{
	expect_failure(run_engine(d, d), -EINVAL, "are the same file");
	ASSERT_EQ(rt::sh("ln -s " + d + " " + tmp.path("link")), 0);
	expect_failure(run_engine(tmp.path("link"), d), -EINVAL, "are the same file");
}

TEST_F(BadInput, SameDeviceTwiceEvenThroughALink)
{
	rt::LoopDevice ld(d);
	if (!ld.ok()) {
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	}
	expect_failure(run_engine(ld.dev(), ld.dev()), -EINVAL, "are the same device");
	ASSERT_EQ(rt::sh("ln -s " + ld.dev() + " " + tmp.path("devlink")), 0);
	expect_failure(run_engine(tmp.path("devlink"), ld.dev()), -EINVAL, "are the same device");
}

TEST_F(BadInput, DirectoryAsSource)
{
	expect_failure(run_engine(tmp.dir(), d), -EINVAL, "not a regular file or block device");
}

TEST_F(BadInput, ChangeBitmapAsCheckpointIsNeverOverwritten)
{
	std::string ck = tmp.path("ck");
	save_bitmap(Size);
	// A change bitmap given as the checkpoint: a mistake that would lose it.
	ASSERT_EQ(rt::sh("cp " + bm + " " + ck), 0);
	std::string ck_before = rt::sha256(ck);
	expect_failure(run_engine(s, d, RESYNC_FULL, nullptr, 0,
				  [&](resync *h) {
					  resync_set_checkpoint(h, ck.c_str(), 1000, 0);
				  }),
		       -EEXIST, "exists and is not a checkpoint");
	EXPECT_EQ(rt::sha256(ck), ck_before);
}

TEST_F(BadInput, MountedDeviceIsInUse)
{
	std::string img = tmp.path("fs.img"), mnt = tmp.path("mnt");
	rt::sparse_file(img, 16 << 20);
	ASSERT_EQ(rt::sh("mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 " + img), 0);
	rt::LoopDevice ld(img);
	if (!ld.ok()) {
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	}
	ASSERT_EQ(rt::sh("mkdir " + mnt + " && mount " + ld.dev() + " " + mnt), 0);
	rt::write_file(s, rt::random_bytes(1 << 20, 4));
	RunResult r = run_engine(s, ld.dev());
	std::string fsck;
	rt::sh("umount " + mnt);
	EXPECT_EQ(r.ret, -EBUSY);
	EXPECT_NE(r.error.find("is in use (mounted"), std::string::npos) << r.error;
	EXPECT_EQ(r.st.bytes_written, 0u);
	EXPECT_EQ(rt::sh("fsck.ext4 -n " + img, &fsck), 0)
		<< "the file system was damaged: " << fsck;
}

// Unreadable source: the copy runs as an unprivileged user who may write the
// target but not read the source.
TEST_F(BadInput, UnreadableSource)
{
	ASSERT_EQ(rt::sh("chmod 0600 " + s + " && chmod 0666 " + d + " && chmod 0755 " + tmp.dir()),
		  0);
	std::string out;
	int rc = rt::sh("setpriv --reuid=65534 --regid=65534 --clear-groups " + rt::bin_dir() +
				"/resync copy " + s + " " + d,
			&out);
	EXPECT_EQ(rc, 1) << out;
	EXPECT_NE(out.find("source " + s + ": open: Permission denied"), std::string::npos) << out;
	EXPECT_EQ(rt::sha256(d), before);
}

} // namespace
