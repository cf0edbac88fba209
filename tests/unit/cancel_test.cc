// SPDX-License-Identifier: MIT
// resync_cancel() stops the run it finds (or the next one to start), is seen
// during open, plan and before the final flush, and is consumed when the run
// returns; and a ring whose submit fails reports the failure instead of
// spinning.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <resync/resync.h>
#include "engine_util.h"
#include <liburing.h>
extern "C" {
#include "ring.h"
}
#include "testutil.h"

namespace {

constexpr uint64_t MiB = 1 << 20;

struct Cancel : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(4 * MiB, 31);
	rt::Bytes dst = rt::random_bytes(4 * MiB, 32);
	resync *r = resync_new();
	resync_phase cancel_at = RESYNC_PHASE_DONE;
	int calls_at_phase = 0;

	void SetUp() override
	{
		rt::write_file(s, src);
		rt::write_file(d, dst);
		ASSERT_EQ(resync_set_source(r, s.c_str()), 0);
		ASSERT_EQ(resync_set_target(r, d.c_str()), 0);
		ASSERT_EQ(resync_set_checkpoint(r, ck.c_str(), 0, 0), 0);
		ASSERT_EQ(resync_set_progress(r, on_progress, this, 60000), 0);
	}
	void TearDown() override
	{
		resync_free(r);
	}

	static void on_progress(const resync_stats *st, void *arg)
	{
		auto *t = static_cast<Cancel *>(arg);
		if (st->phase == t->cancel_at && t->calls_at_phase++ == 0)
			resync_cancel(t->r);
	}

	resync_stats stats()
	{
		resync_stats st;
		resync_get_stats(r, &st);
		return st;
	}
	bool exists(const std::string &p)
	{
		return access(p.c_str(), F_OK) == 0;
	}
};

TEST_F(Cancel, BeforeTheRunStopsThatRunOnly)
{
	resync_cancel(r);
	EXPECT_EQ(resync_run(r), -ECANCELED);
	EXPECT_EQ(stats().phase, RESYNC_PHASE_OPEN) << "the cancel was not seen during open";
	EXPECT_FALSE(exists(ck)) << "a cancelled open went on to plan and checkpoint";
	EXPECT_TRUE(rt::read_file(d) == dst);
	// Consumed: the same handle runs again.
	ASSERT_EQ(resync_run(r), 0) << resync_error(r);
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Cancel, SeenWhilePlanning)
{
	std::string list = tmp.path("list");
	std::ofstream(list) << "0 64K\n1M 64K\n2M 64K\n";
	ASSERT_EQ(resync_set_mode(r, RESYNC_EXTENTS, list.c_str()), 0);
	cancel_at = RESYNC_PHASE_PLAN;
	EXPECT_EQ(resync_run(r), -ECANCELED);
	EXPECT_EQ(stats().phase, RESYNC_PHASE_PLAN);
	EXPECT_STREQ(resync_error(r), "cancelled");
	EXPECT_FALSE(exists(ck)) << "a cancelled plan was recorded";
	EXPECT_TRUE(rt::read_file(d) == dst);
}

TEST_F(Cancel, BeforeTheFinalFlushKeepsTheCheckpoint)
{
	cancel_at = RESYNC_PHASE_FLUSH;
	EXPECT_EQ(resync_run(r), -ECANCELED);
	EXPECT_EQ(stats().phase, RESYNC_PHASE_FLUSH);
	// Nothing after the last checkpoint is known to be durable: the rerun
	// resumes from it and ends identical.
	ASSERT_TRUE(exists(ck));
	ASSERT_EQ(resync_run(r), 0) << resync_error(r);
	EXPECT_EQ(stats().resumed, 1u);
	EXPECT_FALSE(exists(ck));
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Cancel, DuringTheCopyIsConsumedByThatRun)
{
	cancel_at = RESYNC_PHASE_COPY;
	EXPECT_EQ(resync_run(r), -ECANCELED);
	ASSERT_TRUE(exists(ck));
	ASSERT_EQ(resync_run(r), 0) << resync_error(r);
	EXPECT_TRUE(rt::read_file(d) == src);
}

// io_uring_enter refusing the submit (here: the ring's descriptor replaced
// by /dev/null) used to make rs_ring_sqe() retry forever once the queue was
// full.  Run in a child under alarm() so a spin fails instead of hanging.
TEST(Ring, SubmitFailureIsReturnedNotSpun)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		struct rs_ring rg;
		if (rs_ring_init(&rg, 4))
			_exit(10);
		rs_completion c{ [](rs_completion *, int) { _exit(11); } };
		for (unsigned i = 0; i < rg.ring.sq.ring_entries; i++)
			io_uring_prep_nop(rs_ring_sqe(&rg, &c));
		int devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || dup2(devnull, rg.ring.ring_fd) < 0)
			_exit(12);
		io_uring_prep_nop(rs_ring_sqe(&rg, &c));
		int err = rg.error, ret = rs_ring_run(&rg, 1000000);
		_exit(err < 0 && ret == err ? 0 : 13);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status)
					  << " (SIGALRM: rs_ring_sqe spun on the failed submit)";
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

} // namespace
