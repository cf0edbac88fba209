// SPDX-License-Identifier: MIT
// The token bucket and the rate-limit group, on a clock the test controls.
#include <gtest/gtest.h>
#include <errno.h>
extern "C" {
#include "clock.h"
#include "ratelimit.h"
#include "resync/resync.h"
}

TEST(RateLimit, UnlimitedNeverWaits)
{
	rs_rate rt;
	rs_rate_init(&rt, 0, 1 << 20, 0);
	for (int i = 0; i < 100; i++)
		EXPECT_EQ(rs_rate_take(&rt, 1 << 20, 0), 0);
}

TEST(RateLimit, SpendsTheBurstThenWaitsForTokens)
{
	const uint64_t sec = 1000000000ull;
	rs_rate rt;
	rs_rate_init(&rt, 1000000, 200000, 0); // 1 MB/s, 200 kB bucket
	EXPECT_EQ(rs_rate_take(&rt, 100000, 0), 0);
	EXPECT_EQ(rs_rate_take(&rt, 100000, 0), 0);
	EXPECT_EQ(rs_rate_take(&rt, 100000, 0), -EAGAIN);
	// 100 kB at 1 MB/s: 100 ms, plus the scheduler's microsecond.
	EXPECT_EQ(rs_rate_wait_ns(&rt, 0), sec / 10 + 1000);
	EXPECT_EQ(rs_rate_take(&rt, 100000, sec / 20), -EAGAIN);
	EXPECT_EQ(rs_rate_take(&rt, 100000, sec / 10), 0);
}

TEST(RateLimit, AverageRateOverManyRequestsIsTheLimit)
{
	const uint64_t sec = 1000000000ull;
	rs_rate rt;
	rs_rate_init(&rt, 10000000, 2000000, 0);
	uint64_t now = 0, sent = 0;
	while (now < 10 * sec) {
		if (rs_rate_take(&rt, 1000000, now) == 0)
			sent += 1000000;
		else
			now += rs_rate_wait_ns(&rt, now) + 250000; // late wake-ups
	}
	// 10 s at 10 MB/s plus the initial bucket, give or take one request.
	EXPECT_GE(sent, 100000000u);
	EXPECT_LE(sent, 103000000u);
}

// A rate-limit group: handles share one bucket.  The clock is the test's,
// from a base taken after the members joined (joining reads the real one).
namespace {

struct Member {
	resync *r = resync_new();
	rs_rate rt;
	uint64_t sent = 0, next = 0;
	~Member()
	{
		resync_free(r);
	}
};

struct Group : ::testing::Test {
	static constexpr uint64_t sec = 1000000000ull, bps = 10000000, req = 1000000;
	resync_rate_group *g = nullptr;
	Member a, b;
	uint64_t base = 0;

	void SetUp() override
	{
		ASSERT_EQ(resync_rate_group_new(&g, bps), 0);
		for (Member *m : { &a, &b }) {
			ASSERT_EQ(resync_set_rate_group(m->r, g), 0);
			rs_rate_init(&m->rt, 0, 2 * req, 0);
			rs_rate_join(&m->rt, m->r);
		}
		base = rc_now_ns() + sec;
		a.next = b.next = base;
	}
	void TearDown() override
	{
		resync_rate_group_free(g);
	}
	// m tries at its time; late is how late it wakes after a refusal.
	void step(Member &m, uint64_t late)
	{
		if (rs_rate_take(&m.rt, req, m.next) == 0)
			m.sent += req;
		else
			m.next += rs_rate_wait_ns(&m.rt, m.next) + late;
	}
};

} // namespace

TEST_F(Group, TwoGreedyMembersShareTheLimitEvenly)
{
	// b always wakes later than a: a first-come bucket would starve it.
	while (a.next < base + 10 * sec || b.next < base + 10 * sec) {
		if (a.next <= b.next)
			step(a, 50000);
		else
			step(b, 2000000);
	}
	uint64_t total = a.sent + b.sent;
	// 10 s at 10 MB/s plus the bucket, give or take one request each.
	EXPECT_GE(total, 98000000u);
	EXPECT_LE(total, 104000000u);
	EXPECT_GE(b.sent, total * 45 / 100) << "a " << a.sent << " b " << b.sent;
	EXPECT_GE(a.sent, total * 45 / 100) << "a " << a.sent << " b " << b.sent;
}

TEST_F(Group, AMemberThatNeedsLessLeavesTheRestToTheOther)
{
	// a wants one request a second; b takes whatever is left.
	uint64_t a_due = base;
	while (b.next < base + 10 * sec) {
		if (a_due <= b.next) {
			a.next = a_due;
			uint64_t before = a.sent;
			step(a, 0);
			if (a.sent > before)
				a_due += sec;
			else
				a_due = a.next;
		} else {
			step(b, 50000);
		}
	}
	EXPECT_GE(a.sent, 9 * req);
	EXPECT_LE(a.sent, 11 * req);
	EXPECT_GE(b.sent, 86000000u) << "b did not get what a left";
	EXPECT_LE(a.sent + b.sent, 104000000u);
}

TEST_F(Group, AWaiterThatStopsAskingHoldsNobodyBack)
{
	// b spends the bucket; a, having taken less, is refused and so waits
	// ahead of b, then pauses for good: b must go on at the full rate.
	EXPECT_EQ(rs_rate_take(&b.rt, 2 * req, base), 0);
	b.sent = 2 * req;
	EXPECT_EQ(rs_rate_take(&a.rt, req, base), -EAGAIN);
	while (b.next < base + 10 * sec)
		step(b, 50000);
	EXPECT_GE(b.sent, 97000000u);
	EXPECT_LE(b.sent, 103000000u);
}

TEST(RateGroup, BadArgumentsAndBusy)
{
	EXPECT_EQ(resync_rate_group_new(nullptr, 1), -EINVAL);
	EXPECT_EQ(resync_set_rate_group(nullptr, nullptr), -EINVAL);
	resync *r = resync_new();
	EXPECT_EQ(resync_set_rate_group(r, nullptr), 0);
	resync_rate_group *g;
	ASSERT_EQ(resync_rate_group_new(&g, 0), 0);
	EXPECT_EQ(resync_set_rate_group(r, g), 0);
	// Freed before its member: the member goes back to its own limit.
	resync_rate_group_free(g);
	resync_free(r);
}
