// SPDX-License-Identifier: MIT
// After a copy the target equals the source byte for byte: odd sizes, every
// extent source, regular files and loop-device block devices.
#include <gtest/gtest.h>
#include <cerrno>
#include <cstring>
#include <liburing.h>
#include <fstream>
#include <tuple>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <resync/resync.h>
#include "engine_util.h"
#include "stress.h"
#include "testutil.h"

namespace {

enum class Kind { File, Loop };

struct Case {
	uint64_t size;
	resync_mode mode;
	Kind kind;
};

std::string name_of(const ::testing::TestParamInfo<Case> &info)
{
	static const char *modes[] = { "full", "extents", "bitmap", "compare", "nbddirty" };
	return std::string(info.param.kind == Kind::File ? "file" : "loop") + "_" +
	       modes[info.param.mode] + "_" + std::to_string(info.param.size);
}

class CopyEquals : public ::testing::TestWithParam<Case> {};

// The places where the target is made to differ: first byte, a run in the
// middle crossing a block edge, the last byte.
std::vector<std::pair<uint64_t, uint64_t>> changes_for(uint64_t size)
{
	std::vector<std::pair<uint64_t, uint64_t>> c;
	if (!size)
		return c;
	c.push_back({ 0, 1 });
	if (size > 70000)
		c.push_back({ 65536 - 50, 100 });
	if (size > 2)
		c.push_back({ size / 2, std::min<uint64_t>(300, size - size / 2 - 1) });
	if (size > 1)
		c.push_back({ size - 1, 1 });
	return c;
}

TEST_P(CopyEquals, TargetMatchesSource)
{
	const Case &c = GetParam();
	rt::TempDir tmp;
	std::string srcf = tmp.path("src"), dstf = tmp.path("dst");
	rt::Bytes src = rt::random_bytes(c.size, c.size + 7);
	rt::Bytes dst = src;
	auto changes = changes_for(c.size);
	for (auto [off, len] : changes)
		for (uint64_t i = 0; i < len; i++)
			dst[off + i] ^= 0x5a;
	rt::write_file(srcf, src);
	rt::write_file(dstf, dst);

	std::string arg;
	if (c.mode == RESYNC_EXTENTS) {
		arg = tmp.path("extents");
		std::ofstream f(arg);
		f << "# offset length\n";
		for (auto [off, len] : changes)
			f << off << " " << len << "\n";
	} else if (c.mode == RESYNC_BITMAP) {
		arg = tmp.path("bitmap");
		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_new(&b, c.size, 4096), 0);
		for (auto [off, len] : changes)
			ASSERT_EQ(resync_bitmap_mark(b, off, len), 0);
		ASSERT_EQ(resync_bitmap_save(b, arg.c_str()), 0);
		resync_bitmap_free(b);
	}

	std::unique_ptr<rt::LoopDevice> ls, ld;
	std::string s = srcf, d = dstf;
	if (c.kind == Kind::Loop) {
		ls = std::make_unique<rt::LoopDevice>(srcf);
		ld = std::make_unique<rt::LoopDevice>(dstf);
		if (!ls->ok() || !ld->ok()) {
			GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
		}
		s = ls->dev();
		d = ld->dev();
	}
	RunResult r =
		run_engine(s, d, c.mode, arg.empty() ? nullptr : arg.c_str(), RESYNC_F_VERIFY);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.size, c.size);
	EXPECT_EQ(r.st.bytes_done, r.st.bytes_planned);
	rt::Bytes out = rt::read_file(d);
	ASSERT_EQ(out.size(), src.size());
	EXPECT_TRUE(out == src) << "target differs from source";
	if (c.kind == Kind::File) {
		EXPECT_EQ(rt::file_size(dstf), c.size) << "the target file changed size";
	}
}

std::vector<Case> cases()
{
	std::vector<Case> v;
	const uint64_t file_sizes[] = { 0, 1, 4095, 65537, (1 << 20) + 3, (5 << 20) + 12345 };
	const uint64_t loop_sizes[] = { 512, 66048, (1 << 20) + 512, (5 << 20) + 4608 };
	const resync_mode modes[] = { RESYNC_FULL, RESYNC_COMPARE, RESYNC_EXTENTS, RESYNC_BITMAP };
	for (resync_mode m : modes) {
		for (uint64_t s : file_sizes)
			v.push_back({ s, m, Kind::File });
		for (uint64_t s : loop_sizes)
			v.push_back({ s, m, Kind::Loop });
	}
	return v;
}

INSTANTIATE_TEST_SUITE_P(Sizes, CopyEquals, ::testing::ValuesIn(cases()), name_of);

// A target with nothing in common with the source, larger than it: full and
// compare rewrite all of the source's range and leave the rest alone.
TEST(CopyWhole, UnrelatedLargerTargetGetsSourceRangeOnly)
{
	for (resync_mode m : { RESYNC_FULL, RESYNC_COMPARE }) {
		rt::TempDir tmp;
		rt::Bytes src = rt::random_bytes(3 * 1048576 + 17, 1);
		rt::Bytes dst = rt::random_bytes(4 * 1048576, 2);
		rt::write_file(tmp.path("s"), src);
		rt::write_file(tmp.path("d"), dst);
		RunResult r = run_engine(tmp.path("s"), tmp.path("d"), m);
		ASSERT_EQ(r.ret, 0) << r.error;
		rt::Bytes out = rt::read_file(tmp.path("d"));
		ASSERT_EQ(out.size(), dst.size());
		EXPECT_TRUE(std::equal(src.begin(), src.end(), out.begin()));
		EXPECT_TRUE(std::equal(dst.begin() + (long)src.size(), dst.end(),
				       out.begin() + (long)src.size()));
	}
}

// Queue depth 1 and the smallest request still produce the same bytes: the
// pipeline does not depend on parallelism.
TEST(CopyWhole, DepthOneSmallRequests)
{
	rt::TempDir tmp;
	rt::Bytes src = rt::random_bytes(300000, 3);
	rt::write_file(tmp.path("s"), src);
	rt::sparse_file(tmp.path("d"), 300000);
	RunResult r =
		run_engine(tmp.path("s"), tmp.path("d"), RESYNC_FULL, nullptr, 0, [](resync *h) {
			ASSERT_EQ(resync_set_queue_depth(h, 1), 0);
			ASSERT_EQ(resync_set_request_size(h, 4096), 0);
			ASSERT_EQ(resync_set_block_size(h, 4096), 0);
		});
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_TRUE(rt::read_file(tmp.path("d")) == src);
}

// Buffered I/O (no O_DIRECT) gives the same bytes, and says so.
TEST(CopyWhole, NoDirectFlag)
{
	rt::TempDir tmp;
	rt::Bytes src = rt::random_bytes(200001, 4);
	rt::write_file(tmp.path("s"), src);
	rt::sparse_file(tmp.path("d"), 200001);
	RunResult r =
		run_engine(tmp.path("s"), tmp.path("d"), RESYNC_FULL, nullptr, RESYNC_F_NO_DIRECT);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.source_direct, 0u);
	EXPECT_EQ(r.st.target_direct, 0u);
	EXPECT_TRUE(rt::read_file(tmp.path("d")) == src);
}

// ramfs refuses O_DIRECT (tmpfs takes it since Linux 6.6): the engine falls
// back to buffered I/O and reports it.
TEST(CopyWhole, FileSystemWithoutODirectFallsBackToBufferedIO)
{
	rt::TempDir tmp;
	std::string dir = tmp.path("ramfs");
	ASSERT_EQ(rt::sh("mkdir " + dir + " && mount -t ramfs none " + dir), 0);
	rt::Bytes src = rt::random_bytes(100000, 5);
	rt::write_file(dir + "/s", src);
	rt::sparse_file(dir + "/d", 100000);
	RunResult r = run_engine(dir + "/s", dir + "/d");
	rt::Bytes out = rt::read_file(dir + "/d");
	// The engine holds nothing open once it returned: an immediate umount works.
	EXPECT_EQ(rt::sh("umount " + dir), 0) << "the file system is still busy after the copy";
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.source_direct, 0u);
	EXPECT_EQ(r.st.target_direct, 0u);
	EXPECT_TRUE(out == src);
}

// The promise an appliance relies on: once resync_run() returned, nothing of
// the run holds the file system, so it unmounts at once (umount(2) straight
// after, no shell in between to give the kernel time).  ramfs takes no
// nowait I/O, so every request goes through io_uring's workers, whose last
// reference on a request may drop after its completion was reaped; the
// zeroed half adds the zeroing requests.  Each round is a fresh mount.
TEST(CopyWhole, FileSystemUnmountsRightAfterEveryRun)
{
	rt::TempDir tmp;
	std::string dir = tmp.path("ramfs");
	ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
	rt::Bytes src = rt::random_bytes(1 << 20, 7);
	std::fill(src.begin() + (1 << 19), src.end(), 0);
	rt::Bytes old = rt::random_bytes(1 << 20, 8);
	int rounds = rt::rounds(40, 400);
	for (int i = 0; i < rounds; i++) {
		ASSERT_EQ(mount("none", dir.c_str(), "ramfs", 0, nullptr), 0) << strerror(errno);
		rt::write_file(dir + "/s", src);
		rt::write_file(dir + "/d", old);
		RunResult r =
			run_engine(dir + "/s", dir + "/d", RESYNC_FULL, nullptr, 0, [](resync *h) {
				ASSERT_EQ(resync_set_request_size(h, 65536), 0);
			});
		if (i == 0) {
			EXPECT_TRUE(rt::read_file(dir + "/d") == src);
		}
		int ret = umount(dir.c_str()), err = errno;
		if (ret)
			umount2(dir.c_str(), MNT_DETACH); // leaves no mount behind a failure
		ASSERT_EQ(ret, 0) << "round " << i << ": " << strerror(err)
				  << ": the run still held its file system";
		ASSERT_EQ(r.ret, 0) << r.error;
	}
}

// On a kernel without SINGLE_ISSUER/DEFER_TASKRUN (4096 | 8192), or without
// COOP_TASKRUN (256) too, io_uring setup refuses them with EINVAL (a shim
// plays that kernel); resync falls back to fewer flags and copies all the
// same.  The shim's log shows the sets asked for, in order.  A case whose
// allowed set this kernel itself refuses (DEFER_TASKRUN came in 6.1,
// COOP_TASKRUN in 5.19) cannot be played by the shim, and is skipped.
bool kernel_takes_ring_flags(unsigned flags)
{
	struct io_uring ring;
	struct io_uring_params p = {};
	p.flags = flags;
	if (io_uring_queue_init_params(4, &ring, &p))
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

TEST(Ring, SetupFlagsFallBackOnEinval)
{
	std::string shim = rt::bin_dir() + "/../tests/shim/uring_old_kernel.so";
	ASSERT_EQ(access(shim.c_str(), R_OK), 0) << shim << " is not built (make all)";
	std::string unsupported;
	for (auto [allowed, want] :
	     { std::pair<std::string, std::string>{ "256",
						    "flags=12544 ret=-22\nflags=256 ret=0\n" },
	       { "0", "flags=12544 ret=-22\nflags=256 ret=-22\nflags=0 ret=0\n" },
	       { "12544", "flags=12544 ret=0\n" } }) {
		if (!kernel_takes_ring_flags((unsigned)std::stoul(allowed))) {
			unsupported += " " + allowed;
			continue;
		}
		rt::TempDir tmp;
		std::string s = tmp.path("s"), d = tmp.path("d"), log = tmp.path("log");
		rt::Bytes src = rt::random_bytes(8 << 20, 49);
		rt::write_file(s, src);
		rt::write_file(d, rt::random_bytes(8 << 20, 50));
		std::string out;
		ASSERT_EQ(rt::sh("RESYNC_SHIM_URING_FLAGS=" + allowed + " RESYNC_SHIM_LOG='" + log +
					 "' LD_PRELOAD='" + shim +
					 "' ASAN_OPTIONS=verify_asan_link_order=0 '" +
					 rt::bin_dir() + "/resync' copy '" + s + "' '" + d +
					 "' --full 2>&1",
				 &out),
			  0)
			<< out;
		EXPECT_TRUE(rt::read_file(d) == src) << allowed;
		rt::Bytes b = rt::read_file(log);
		EXPECT_EQ(std::string(b.begin(), b.end()), want) << allowed;
	}
	if (!unsupported.empty())
		GTEST_SKIP() << "this kernel refuses the io_uring setup flags of the cases"
			     << unsupported << "; the others passed";
}

} // namespace
