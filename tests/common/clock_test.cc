// SPDX-License-Identifier: MIT
// The monotonic clock (common/clock.h): never goes back, its ms and ns
// readings are one clock, and it advances at least as far as a sleep.
#include <gtest/gtest.h>
#include <time.h>
#include "clock.h"

namespace {

TEST(Clock, NeverGoesBack)
{
	uint64_t prev = rc_now_ns();
	int64_t prev_ms = rc_now_ms();
	for (int i = 0; i < 100000; i++) {
		uint64_t now = rc_now_ns();
		int64_t now_ms = rc_now_ms();
		ASSERT_GE(now, prev);
		ASSERT_GE(now_ms, prev_ms);
		prev = now, prev_ms = now_ms;
	}
}

TEST(Clock, MillisecondsAreTheSameClock)
{
	int64_t before = rc_now_ms();
	uint64_t ns = rc_now_ns();
	int64_t after = rc_now_ms();
	EXPECT_GE((int64_t)(ns / 1000000), before);
	EXPECT_LE((int64_t)(ns / 1000000), after);
}

TEST(Clock, IsTheMonotonicClock)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t ns = rc_now_ns();
	clock_gettime(CLOCK_MONOTONIC, &b);
	EXPECT_GE(ns, (uint64_t)a.tv_sec * 1000000000ull + (uint64_t)a.tv_nsec);
	EXPECT_LE(ns, (uint64_t)b.tv_sec * 1000000000ull + (uint64_t)b.tv_nsec);
}

TEST(Clock, AdvancesAtLeastAsFarAsASleep)
{
	uint64_t start = rc_now_ns();
	int64_t start_ms = rc_now_ms();
	struct timespec ts = { 0, 20 * 1000000 };
	while (nanosleep(&ts, &ts))
		;
	EXPECT_GE(rc_now_ns() - start, 20u * 1000000);
	EXPECT_GE(rc_now_ms() - start_ms, 19);
}

} // namespace
