// SPDX-License-Identifier: MIT
// What a checkpoint and a target claim are bound to: a rerun right after a
// kill -9 waits for the dead run's claim instead of failing; a checkpoint is
// resumed only onto the very endpoints it was made for (another file at the
// same /dev/loopN, another source at the same path: start over, say why).
#include <gtest/gtest.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <resync/resync.h>
#include <resync/change_bitmap.h>
#include "engine_util.h"
#include "stress.h"
#include "testutil.h"

namespace {

constexpr uint64_t MiB = 1 << 20;

struct CancelAt {
	resync *r;
	uint64_t after;
};

void cancel_after(const resync_stats *st, void *arg)
{
	auto *c = static_cast<CancelAt *>(arg);
	if (st->bytes_done >= c->after)
		resync_cancel(c->r);
}

// Copies src onto dst with a checkpoint and cancels once `after` bytes are
// done: the checkpoint then records a partly copied target.
void interrupted_copy(const std::string &src, const std::string &dst, const std::string &ck,
		      resync_mode mode = RESYNC_FULL, const char *arg = nullptr,
		      uint64_t after = 4 * MiB)
{
	resync *r = resync_new();
	CancelAt c{ r, after };
	resync_set_source(r, src.c_str());
	resync_set_target(r, dst.c_str());
	resync_set_mode(r, mode, arg);
	resync_set_rate_limit(r, 32 * MiB);
	resync_set_checkpoint(r, ck.c_str(), 0, MiB);
	resync_set_progress(r, cancel_after, &c, 5);
	ASSERT_EQ(resync_run(r), -ECANCELED) << resync_error(r);
	resync_stats st;
	resync_get_stats(r, &st);
	resync_free(r);
	ASSERT_GE(st.bytes_done, after);
	ASSERT_LT(st.bytes_done, st.bytes_planned) << "finished before the cancel";
	ASSERT_EQ(access(ck.c_str(), F_OK), 0) << "no checkpoint kept";
}

RunResult rerun(const std::string &src, const std::string &dst, const std::string &ck,
		resync_mode mode = RESYNC_FULL, const char *arg = nullptr)
{
	return run_engine(src, dst, mode, arg, 0,
			  [&](resync *h) { resync_set_checkpoint(h, ck.c_str(), 1000, 0); });
}

// The reason a run gives for not resuming, read back from a fresh handle is
// impossible: run_engine frees its handle, so this runs one itself.
std::string refused_reason(const std::string &src, const std::string &dst, const std::string &ck,
			   RunResult *res, resync_mode mode = RESYNC_FULL,
			   const char *arg = nullptr)
{
	resync *r = resync_new();
	resync_set_source(r, src.c_str());
	resync_set_target(r, dst.c_str());
	resync_set_mode(r, mode, arg);
	resync_set_checkpoint(r, ck.c_str(), 1000, 0);
	res->ret = resync_run(r);
	resync_get_stats(r, &res->st);
	res->error = resync_error(r);
	std::string why = resync_resume_refused(r);
	resync_free(r);
	return why;
}

struct Identity : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(16 * MiB + 4096, 31);

	void SetUp() override
	{
		rt::write_file(s, src);
		rt::write_file(d, rt::random_bytes(src.size(), 32));
	}
};

TEST_F(Identity, SameEndpointsResume)
{
	interrupted_copy(s, d, ck);
	RunResult res;
	std::string why = refused_reason(s, d, ck, &res);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 1u);
	EXPECT_EQ(res.st.resume_refused, 0u);
	EXPECT_EQ(why, "");
	EXPECT_LT(res.st.bytes_planned, src.size());
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Identity, SourceReplacedAtTheSamePathIsNotResumed)
{
	interrupted_copy(s, d, ck);
	rt::Bytes other = rt::random_bytes(src.size(), 33);
	rt::write_file(tmp.path("new"), other);
	ASSERT_EQ(rename(tmp.path("new").c_str(), s.c_str()), 0);
	RunResult res;
	std::string why = refused_reason(s, d, ck, &res);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 0u);
	EXPECT_EQ(res.st.resume_refused, 1u);
	EXPECT_EQ(res.st.bytes_planned, src.size());
	EXPECT_NE(why.find("the source " + s + " is not the file or device it was made for"),
		  std::string::npos)
		<< why;
	EXPECT_TRUE(rt::read_file(d) == other);
	EXPECT_NE(access(ck.c_str(), F_OK), 0) << "checkpoint left after success";
}

TEST_F(Identity, SourceRewrittenInPlaceIsNotResumed)
{
	interrupted_copy(s, d, ck);
	// The same inode with other content: only the fingerprint can tell.
	rt::Bytes other = rt::random_bytes(src.size(), 34);
	rt::write_file(s, other);
	RunResult res;
	std::string why = refused_reason(s, d, ck, &res);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 0u);
	EXPECT_EQ(res.st.resume_refused, 1u);
	EXPECT_NE(why.find("the source no longer reads the same"), std::string::npos) << why;
	EXPECT_EQ(why.find("is not the file or device"), std::string::npos) << why;
	EXPECT_TRUE(rt::read_file(d) == other);
}

TEST_F(Identity, TargetReplacedAtTheSamePathIsNotResumed)
{
	interrupted_copy(s, d, ck);
	rt::write_file(tmp.path("new"), rt::random_bytes(src.size(), 35));
	ASSERT_EQ(rename(tmp.path("new").c_str(), d.c_str()), 0);
	RunResult res;
	std::string why = refused_reason(s, d, ck, &res);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 0u);
	EXPECT_NE(why.find("the target " + d + " is not the file or device it was made for"),
		  std::string::npos)
		<< why;
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Identity, ChangedExtentListIsNotResumed)
{
	std::string ext = tmp.path("extents");
	ASSERT_EQ(rt::sh("printf '0 8388608\\n' >" + ext), 0);
	interrupted_copy(s, d, ck, RESYNC_EXTENTS, ext.c_str(), 2 * MiB);
	// The same path, another list: what it names must be copied in full.
	std::string whole = "0 " + std::to_string(src.size());
	ASSERT_EQ(rt::sh("printf '" + whole + "\\n' >" + ext), 0);
	RunResult res;
	std::string why = refused_reason(s, d, ck, &res, RESYNC_EXTENTS, ext.c_str());
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 0u);
	EXPECT_NE(why.find("change record differ"), std::string::npos) << why;
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Identity, CheckpointOfAnOlderFormatStartsOver)
{
	// A checkpoint as the old engine wrote it: flagged, a path-string
	// identity, no record of how to check it again.
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, src.size(), 64 << 10), 0);
	ASSERT_EQ(resync_bitmap_mark(b, 0, 4096), 0);
	ASSERT_EQ(resync_bitmap_set_flags(b, RESYNC_BITMAP_F_CHECKPOINT), 0);
	uint8_t id[16];
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(i * 7 + 1);
	resync_bitmap_set_disk_id(b, id);
	ASSERT_EQ(resync_bitmap_save(b, ck.c_str()), 0);
	resync_bitmap_free(b);
	RunResult res;
	std::string why = refused_reason(s, d, ck, &res);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 0u);
	EXPECT_EQ(res.st.resume_refused, 1u);
	EXPECT_EQ(res.st.bytes_planned, src.size());
	EXPECT_EQ(why, "checkpoint " + ck +
			       " not resumed, starting over: it was made by another "
			       "version of resync");
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Identity, AnotherFileAtTheSameLoopDeviceIsNotResumed)
{
	std::string d2 = tmp.path("dst2");
	rt::Bytes second = rt::random_bytes(src.size(), 36);
	rt::write_file(d2, second);
	rt::LoopDevice ld(d);
	if (!ld.ok()) {
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	}
	interrupted_copy(s, ld.dev(), ck);
	ASSERT_EQ(rt::sh("losetup -d " + ld.dev()), 0);
	// Detaching completes once the last opener is gone: wait for it (or for
	// another program to have taken the device, then this cannot be tried).
	bool attached = false;
	for (int i = 0; i < 300 && !attached; i++) {
		attached = rt::sh("losetup " + ld.dev() + " " + d2 + " 2>/dev/null") == 0;
		if (!attached)
			usleep(20000);
	}
	if (!attached) {
		GTEST_SKIP() << ld.dev()
			     << " was taken by another program before it could be reused";
	}
	RunResult res;
	std::string why = refused_reason(s, ld.dev(), ck, &res);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 0u);
	EXPECT_EQ(res.st.resume_refused, 1u);
	EXPECT_EQ(res.st.bytes_planned, src.size());
	EXPECT_NE(why.find("the target " + ld.dev() + " is not the file or device it was made for"),
		  std::string::npos)
		<< why;
	ASSERT_EQ(rt::sh("sync"), 0);
	EXPECT_TRUE(rt::read_file(d2) == src)
		<< "the second file behind " << ld.dev() << " differs";
}

TEST_F(Identity, LockedTargetFileIsBusyAfterTheWait)
{
	// Another run holds the target: its lock never comes free.
	int fd = open(d.c_str(), O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(flock(fd, LOCK_EX), 0);
	std::string before = rt::sha256(d);
	RunResult res = run_engine(s, d);
	close(fd);
	EXPECT_EQ(res.ret, -EBUSY);
	EXPECT_NE(res.error.find("target " + d + " is in use (locked by another resync run)"),
		  std::string::npos)
		<< res.error;
	EXPECT_GE(res.st.claim_wait_ms, RESYNC_CLAIM_WAIT_MS);
	EXPECT_EQ(res.st.bytes_written, 0u);
	EXPECT_EQ(rt::sha256(d), before);
}

// A child process copying onto a loop device, its progress in shared memory
// so the parent can kill it at a point measured in bytes, not in time.
struct Child {
	pid_t pid;
	volatile uint64_t *done;
};

void publish(const resync_stats *st, void *arg)
{
	*static_cast<volatile uint64_t *>(arg) = st->bytes_done;
}

Child start_copy(const std::string &src, const std::string &dev, const std::string &ck,
		 volatile uint64_t *done)
{
	*done = 0;
	pid_t pid = fork();
	if (pid == 0) {
		resync *r = resync_new();
		resync_set_source(r, src.c_str());
		resync_set_target(r, dev.c_str());
		resync_set_rate_limit(r, 32 * MiB);
		resync_set_queue_depth(r, 8);
		resync_set_request_size(r, 256 << 10);
		resync_set_checkpoint(r, ck.c_str(), 0, 2 * MiB);
		resync_set_progress(r, publish, const_cast<uint64_t *>(done), 1);
		_exit(resync_run(r) == 0 ? 0 : 1);
	}
	return { pid, done };
}

TEST(KillNine, RerunOntoALoopDeviceRightAfterTheKillSucceeds)
{
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(24 * MiB, 41);
	rt::write_file(s, src);
	rt::write_file(d, rt::random_bytes(src.size(), 42));
	rt::LoopDevice ld(d);
	if (!ld.ok()) {
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	}
	void *shm = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(shm, MAP_FAILED);
	auto *done = static_cast<volatile uint64_t *>(shm);
	int rounds = rt::rounds(3, 20);
	for (int i = 0; i < rounds; i++) {
		unlink(ck.c_str());
		rt::write_file(tmp.path("junk"), rt::random_bytes(4 * MiB, 43 + i));
		ASSERT_EQ(rt::sh("dd if=" + tmp.path("junk") + " of=" + ld.dev() +
				 " bs=1M oflag=direct status=none"),
			  0);
		Child c = start_copy(s, ld.dev(), ck, done);
		ASSERT_GT(c.pid, 0);
		// Killed somewhere in the first half, with requests in flight.
		uint64_t at = (1 + i % 8) * MiB;
		int status = 0;
		bool exited = false;
		for (int t = 0; t < 60000 && *c.done < at && !exited; t++) {
			exited = waitpid(c.pid, &status, WNOHANG) == c.pid;
			if (!exited)
				usleep(500);
		}
		ASSERT_FALSE(exited) << "the copy ended before it was killed, status " << status;
		ASSERT_GE(*c.done, at) << "no progress from the child";
		kill(c.pid, SIGKILL);
		ASSERT_EQ(waitpid(c.pid, &status, 0), c.pid);
		// At once: the dead run's ring may still hold the device.
		RunResult res = rerun(s, ld.dev(), ck);
		ASSERT_EQ(res.ret, 0) << "round " << i << ": " << res.error;
		EXPECT_EQ(res.st.resumed, 1u) << "round " << i;
		rt::Bytes got(src.size());
		int fd = open(ld.dev().c_str(), O_RDONLY);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(pread(fd, got.data(), got.size(), 0), (ssize_t)got.size());
		close(fd);
		ASSERT_TRUE(got == src) << "round " << i << ": the device differs from the source";
	}
	munmap(shm, 4096);
}

} // namespace

namespace {

// With libxxhash unable to allocate a state (an LD_PRELOAD shim), a change
// bitmap and a checkpoint are still saved with their real checksum and a
// checkpoint with a real identity: the engine's digests need no allocation.
// The old engine wrote checksum 0 and an all-zero identity here.
TEST(NoAllocation, ChecksumsAndIdentityNeedNoHashState)
{
	rt::TempDir tmp;
	std::string shim = rt::bin_dir() + "/../tests/shim/xxh_nomem.so";
	ASSERT_EQ(access(shim.c_str(), R_OK), 0) << shim << " not built";
	std::string env = "LD_PRELOAD=" + shim + " ASAN_OPTIONS=verify_asan_link_order=0 ";
	std::string bm = tmp.path("bm"), s = tmp.path("src"), d = tmp.path("dst"),
		    ck = tmp.path("ck"), out;
	ASSERT_EQ(rt::sh(env + rt::bin_dir() +
				 "/resync-bitmap create --size 8M --granularity 64K " + bm,
			 &out),
		  0)
		<< out;
	resync_bitmap *b = nullptr;
	ASSERT_EQ(resync_bitmap_load(&b, bm.c_str()), 0) << resync_bitmap_load_error();
	resync_bitmap_free(b);

	// A checkpointed copy killed once it has saved its first checkpoint
	// (before its first write) leaves one to read back.
	rt::write_file(s, rt::random_bytes(8 << 20, 51));
	rt::write_file(d, rt::random_bytes(8 << 20, 52));
	ASSERT_EQ(
		rt::sh(env + rt::bin_dir() + "/resync copy " + s + " " + d + " --checkpoint " + ck +
			       " --rate 1M --json --progress-interval 10 >" + tmp.path("log") +
			       " 2>&1 & pid=$!; for i in $(seq 3000); do grep -q '\"checkpoints\":[1-9]' " +
			       tmp.path("log") +
			       " && break; sleep 0.01; done; kill -9 $pid; wait $pid; "
			       "grep -q '\"checkpoints\":[1-9]' " +
			       tmp.path("log"),
		       &out),
		0)
		<< out << rt::sh("cat " + tmp.path("log"));
	ASSERT_EQ(resync_bitmap_load(&b, ck.c_str()), 0) << resync_bitmap_load_error();
	uint8_t id[16], zero[16] = {};
	resync_bitmap_get_disk_id(b, id);
	resync_bitmap_free(b);
	EXPECT_NE(memcmp(id, zero, 16), 0) << "all-zero checkpoint identity";
}

} // namespace
