// SPDX-License-Identifier: MIT
// Durability is tested, not assumed (file and block-device targets):
//  - every checkpoint is saved after a flush of the target, and the run ends
//    with a flush (an LD_PRELOAD shim logs fdatasync/rename/unlink in order);
//  - a short data write (RLIMIT_FSIZE, SIGXFSZ ignored) leaves its block
//    planned in the checkpoint;
//  - writes failing with ENOSPC (a loop device over a file on a full, tiny
//    ext4) leave every block that differs planned, and once space is freed the
//    rerun resumes to an identical target.
#include <gtest/gtest.h>
#include <fstream>
#include <sstream>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <resync/resync.h>
#include "durability_checks.h"
#include "engine_util.h"
#include "testutil.h"

namespace {

constexpr uint64_t KiB = 1024, MiB = 1 << 20, Blk = 64 * KiB;

using durability::differing;
using durability::expect_planned;
using durability::real;

// Every checkpoint after the first (saved before any write) follows a flush
// of the target, and the run flushes the target after its last checkpoint
// before removing it.
TEST(Durability, CheckpointsFollowTargetFlushesAndTheRunEndsFlushed)
{
	durability::expect_checkpoints_follow_flushes(41, 42, "", "");
}

// A checkpoint onto a file target flushes with the pipeline still busy: at
// some flush of the target the ring holds requests not yet completed (the
// shim reads them from /proc/self/fdinfo), where a loop that drained first
// would always hold none.  The copy also goes on submitting while a flush
// runs: the shim holds the first flush of the target until the ring took 4
// more requests (10 s at most), which a copy stalled behind the flush never
// gives it.  The copy still ends identical, and the other durability tests
// hold the contract (a checkpoint follows a flush covering every block it
// retires).
TEST(Durability, CheckpointFlushesBesideRequestsInFlight)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d"), ck = tmp.path("ck"),
		    log = tmp.path("log");
	rt::write_file(s, rt::random_bytes(32 * MiB, 45));
	rt::write_file(d, rt::random_bytes(32 * MiB, 46));
	std::string shim = rt::bin_dir() + "/../tests/shim/flushlog.so";
	ASSERT_EQ(access(shim.c_str(), R_OK), 0) << shim << " is not built (make all)";
	std::string out;
	ASSERT_EQ(rt::sh("RESYNC_SHIM_LOG='" + log + "' RESYNC_SHIM_HOLD_PATH='" + real(d) +
				 "' LD_PRELOAD='" + shim +
				 "' ASAN_OPTIONS=verify_asan_link_order=0 '" + rt::bin_dir() +
				 "/resync' copy '" + s + "' '" + d + "' --checkpoint '" + ck +
				 "' --checkpoint-interval 0 --checkpoint-bytes 1M --queue-depth 8" +
				 " --request-size 64K",
			 &out),
		  0)
		<< out;
	EXPECT_TRUE(rt::read_file(d) == rt::read_file(s));
	std::string target = real(d), op, a, busy, line;
	std::ifstream in(log);
	int flushes = 0, beside = 0, held = 0;
	while (std::getline(in, line)) {
		std::istringstream ls(line);
		ls >> op >> a >> busy;
		if (op == "held" && a == target) {
			held++;
			EXPECT_GE(std::stol(busy.substr(busy.find('=') + 1)), 4)
				<< "no requests were submitted while the checkpoint's flush ran";
		}
		if (op != "fdatasync" || a != target)
			continue;
		flushes++;
		beside += busy != "inflight=0";
	}
	EXPECT_GE(flushes, 16) << "one per checkpoint (every MiB) and the last";
	EXPECT_GT(beside, 0) << "every flush of the target waited for the pipeline to drain";
	EXPECT_EQ(held, 1);
}

// A checkpoint's flush that fails (the disk reports EIO from its cache
// flush: an LD_PRELOAD shim) fails the copy naming the flush, and the
// checkpoint on disk still plans every block that differs: nothing the
// failed flush was to cover was retired.
TEST(Durability, FailingCheckpointFlushRetiresNothingItCovered)
{
	durability::expect_failing_flush_retires_nothing(47, 48, "");
}

// The kernel reports a failed cache flush once and marks the pages clean, so
// the next flush succeeds without the data (the shim fails the target's
// first flush only).  The run must fail with that EIO and record nothing
// after it: the checkpoint stays the one saved before the first write, with
// every block planned, and the rerun resumes it to an identical target.
TEST(Durability, FlushFailingOnceRetiresNothingAfterIt)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(32 * MiB, 49);
	rt::write_file(s, src);
	rt::write_file(d, rt::random_bytes(32 * MiB, 50));
	std::vector<uint64_t> all = differing(src, rt::read_file(d));
	ASSERT_EQ(all.size(), 32 * MiB / Blk);
	std::string shim = rt::bin_dir() + "/../tests/shim/flush_fail.so";
	ASSERT_EQ(access(shim.c_str(), R_OK), 0) << shim << " is not built (make all)";
	std::string cmd = "'" + rt::bin_dir() + "/resync' copy '" + s + "' '" + d +
			  "' --checkpoint '" + ck +
			  "' --checkpoint-interval 0 --checkpoint-bytes 1M --queue-depth 8 --json";
	std::string out;
	int rc = rt::sh("RESYNC_SHIM_FLUSH_FAIL='" + real(d) +
				"' RESYNC_SHIM_FLUSH_FAILS=1 LD_PRELOAD='" + shim +
				"' ASAN_OPTIONS=verify_asan_link_order=0 " + cmd + " 2>&1",
			&out);
	EXPECT_EQ(rc, 1) << out;
	EXPECT_NE(out.find("\"errno\":\"EIO\""), std::string::npos) << out;
	EXPECT_NE(out.find("target " + d + ": flush: Input/output error"), std::string::npos)
		<< out;
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_load(&b, ck.c_str()), 0) << out;
	EXPECT_EQ(resync_bitmap_dirty_bytes(b), 32 * MiB)
		<< "the checkpoint retired blocks after the failed flush";
	resync_bitmap_free(b);

	ASSERT_EQ(rt::sh(cmd + " 2>&1", &out), 0) << out;
	EXPECT_NE(out.find("\"resumed\":true"), std::string::npos) << out;
	EXPECT_NE(out.find("\"bytes_planned\":33554432"), std::string::npos) << out;
	EXPECT_TRUE(rt::read_file(d) == src);
}

// A write that comes back short and then fails (the file size limit) must
// not retire its block: the checkpoint keeps it, and the rerun completes it.
TEST(Durability, ShortWriteLeavesItsBlockPlanned)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(4 * MiB, 43);
	rt::write_file(s, src);
	rt::write_file(d, rt::random_bytes(4 * MiB, 44));
	// Not a block boundary: the write of block 32 gets 12 KiB in.
	const rlim_t limit = 2 * MiB + 12 * KiB;
	auto configure = [&](resync *r) {
		resync_set_block_size(r, Blk);
		resync_set_queue_depth(r, 4);
		resync_set_checkpoint(r, ck.c_str(), 0, 512 * KiB);
	};
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { limit, limit };
		if (setrlimit(RLIMIT_FSIZE, &rl))
			_exit(99);
		RunResult r = run_engine(s, d, RESYNC_FULL, nullptr, 0, configure);
		_exit(r.ret < 0 ? -r.ret : 98);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
	ASSERT_EQ(WEXITSTATUS(status), EFBIG)
		<< "the copy past the size limit did not fail with EFBIG";

	rt::Bytes tgt = rt::read_file(d);
	std::vector<uint64_t> diff = differing(src, tgt);
	ASSERT_FALSE(diff.empty());
	EXPECT_NE(std::find(diff.begin(), diff.end(), limit / Blk), diff.end());
	ASSERT_NO_FATAL_FAILURE(expect_planned(ck, diff));
	ASSERT_NO_FATAL_FAILURE(expect_planned(ck, { limit / Blk }));

	RunResult r = run_engine(s, d, RESYNC_FULL, nullptr, 0, configure);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.resumed, 1u);
	EXPECT_LT(r.st.bytes_planned, src.size());
	EXPECT_TRUE(rt::read_file(d) == src);
}

// A file system mounted for the test, unmounted at the end.
struct Mount {
	std::string dir;
	bool ok = false;
	Mount(const std::string &img, const std::string &d) : dir(d)
	{
		ok = rt::sh("truncate -s 16M '" + img + "' && mkfs.ext4 -q -F -m 0 '" + img +
			    "' && mkdir -p '" + dir + "' && mount -o loop '" + img + "' '" + dir +
			    "'") == 0;
	}
	~Mount()
	{
		if (ok)
			rt::sh("umount '" + dir + "'");
	}
};

// The target is a loop device over a file on an ext4 with 3 MiB free: the
// loop driver's writes fail with ENOSPC part way.  Every block that differs
// stays planned; freeing space and rerunning resumes to identical.
TEST(Durability, WritesFailingWithENOSPCStayPlannedAndResume)
{
	rt::TempDir tmp;
	Mount fs(tmp.path("fs.img"), tmp.path("mnt"));
	if (!fs.ok)
		GTEST_SKIP() << "cannot make and mount an ext4 image (mkfs.ext4, mount -o loop)";
	std::string backing = fs.dir + "/disk", filler = fs.dir + "/filler";
	std::string s = tmp.path("s"), ck = tmp.path("ck");
	ASSERT_EQ(rt::sh("truncate -s 8M '" + backing + "'"), 0);
	struct statvfs sv;
	ASSERT_EQ(statvfs(fs.dir.c_str(), &sv), 0);
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	ASSERT_GT(avail, 4 * MiB);
	ASSERT_EQ(rt::sh("fallocate -l " + std::to_string(avail - 3 * MiB) + " '" + filler + "'"),
		  0);
	rt::LoopDevice ld(backing);
	if (!ld.ok())
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	rt::Bytes src = rt::random_bytes(8 * MiB, 45);
	rt::write_file(s, src);
	auto configure = [&](resync *r) {
		resync_set_block_size(r, Blk);
		resync_set_checkpoint(r, ck.c_str(), 0, MiB);
	};

	RunResult r = run_engine(s, ld.dev(), RESYNC_FULL, nullptr, 0, configure);
	ASSERT_EQ(r.ret, -ENOSPC) << r.error;
	EXPECT_NE(r.error.find("No space left on device"), std::string::npos) << r.error;
	std::vector<uint64_t> diff = differing(src, rt::read_file(ld.dev()));
	ASSERT_FALSE(diff.empty()) << "the file system did not fill up";
	ASSERT_NO_FATAL_FAILURE(expect_planned(ck, diff));

	ASSERT_EQ(unlink(filler.c_str()), 0);
	ASSERT_EQ(rt::sh("sync -f '" + fs.dir + "'"), 0);
	r = run_engine(s, ld.dev(), RESYNC_FULL, nullptr, 0, configure);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.resumed, 1u);
	EXPECT_TRUE(rt::read_file(ld.dev()) == src);
}

} // namespace
