// SPDX-License-Identifier: MIT
// The token bucket, on a clock the test controls.
#include <gtest/gtest.h>
extern "C" {
#include "ratelimit.h"
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
