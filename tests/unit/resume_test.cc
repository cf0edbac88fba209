// SPDX-License-Identifier: MIT
// Cancel, pause and resume: in-flight requests drain, progress is persisted
// after a flush, and a rerun with the checkpoint copies only what remained.
#include <gtest/gtest.h>
#include <atomic>
#include <thread>
#include <unistd.h>
#include <resync/resync.h>
#include <resync/change_bitmap.h>
#include "engine_util.h"
#include "testutil.h"

namespace {

constexpr uint64_t MiB = 1 << 20;

struct Resume : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(32 * MiB + 777, 21);

	void SetUp() override
	{
		rt::write_file(s, src);
		rt::write_file(d, rt::random_bytes(src.size(), 22));
	}
};

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

TEST_F(Resume, CancelPersistsProgressAndRerunCopiesOnlyTheRest)
{
	for (resync_mode mode : { RESYNC_FULL, RESYNC_COMPARE }) {
		resync *r = resync_new();
		CancelAt c{ r, 8 * MiB };
		resync_set_source(r, s.c_str());
		resync_set_target(r, d.c_str());
		resync_set_mode(r, mode, nullptr);
		resync_set_rate_limit(r, 64 * MiB);
		resync_set_checkpoint(r, ck.c_str(), 0, MiB);
		resync_set_progress(r, cancel_after, &c, 5);
		ASSERT_EQ(resync_run(r), -ECANCELED);
		EXPECT_STREQ(resync_error(r), "cancelled");
		resync_stats first;
		resync_get_stats(r, &first);
		resync_free(r);
		ASSERT_GE(first.bytes_done, 8 * MiB);
		ASSERT_LT(first.bytes_done, src.size()) << "finished before the cancel";

		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_load(&b, ck.c_str()), 0);
		EXPECT_EQ(resync_bitmap_flags(b), RESYNC_BITMAP_F_CHECKPOINT);
		EXPECT_EQ(resync_bitmap_dirty_bytes(b), src.size() - first.bytes_done);
		resync_bitmap_free(b);

		RunResult second = run_engine(s, d, mode, nullptr, RESYNC_F_VERIFY, [&](resync *h) {
			resync_set_checkpoint(h, ck.c_str(), 1000, 0);
		});
		ASSERT_EQ(second.ret, 0) << second.error;
		EXPECT_EQ(second.st.resumed, 1u);
		EXPECT_EQ(second.st.bytes_planned, src.size() - first.bytes_done);
		EXPECT_TRUE(rt::read_file(d) == src);
		EXPECT_NE(access(ck.c_str(), F_OK), 0) << "checkpoint left after success";
		rt::write_file(d, rt::random_bytes(src.size(), 23));
	}
}

struct PauseState {
	resync *r;
	std::atomic<int> paused{ 0 };
	std::atomic<uint64_t> checkpoints_when_paused{ 0 };
	std::thread resumer;
};

void pause_once(const resync_stats *st, void *arg)
{
	auto *p = static_cast<PauseState *>(arg);
	if (!p->paused && st->bytes_done >= 4 * MiB) {
		p->paused = 1;
		resync_pause(p->r, 1);
		// Resume once the paused copy has drained and checkpointed (or
		// after 30 s, and the assertion below fails): how long draining
		// takes depends on the machine's load, not on the engine.
		p->resumer = std::thread([p] {
			for (int i = 0; i < 3000 && p->checkpoints_when_paused < 2; i++)
				usleep(10000);
			usleep(100000);
			p->paused = 2;
			resync_pause(p->r, 0);
		});
	}
	if (p->paused == 1)
		p->checkpoints_when_paused = st->checkpoints;
}

TEST_F(Resume, PauseDrainsCheckpointsAndContinues)
{
	resync *r = resync_new();
	PauseState p;
	p.r = r;
	resync_set_source(r, s.c_str());
	resync_set_target(r, d.c_str());
	resync_set_rate_limit(r, 64 * MiB);
	resync_set_checkpoint(r, ck.c_str(), 0, 0);
	resync_set_progress(r, pause_once, &p, 5);
	ASSERT_EQ(resync_run(r), 0) << resync_error(r);
	p.resumer.join();
	resync_free(r);
	// Only the initial checkpoint and the one taken once paused and drained.
	EXPECT_EQ(p.checkpoints_when_paused, 2u);
	EXPECT_TRUE(rt::read_file(d) == src);
}

TEST_F(Resume, RateLimitHoldsTheCopyBack)
{
	// A lower bound only: a copy can never beat its rate limit, however
	// loaded the machine is.
	RunResult r = run_engine(s, d, RESYNC_FULL, nullptr, 0,
				 [](resync *h) { resync_set_rate_limit(h, 64 * MiB); });
	ASSERT_EQ(r.ret, 0) << r.error;
	double secs = (double)r.st.elapsed_ns / 1e9;
	EXPECT_GE(secs, (32.0 * MiB - 2 * MiB) / (64.0 * MiB));
	EXPECT_TRUE(rt::read_file(d) == src);
}

} // namespace
