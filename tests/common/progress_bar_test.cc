// SPDX-License-Identifier: MIT
// The terminal progress bar (common/progress_bar.h): exact lines for the
// bar, percentage, bytes, rate and ETA, clamping, the unknown ETA, and the
// padded redraw that hides a longer previous line.
#include <gtest/gtest.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include "progress_bar.h"

namespace {

const uint64_t MiB = 1 << 20;

std::string line(double fraction, uint64_t done, uint64_t total, double rate, const char *label)
{
	struct rc_progress p = { fraction, done, total, rate, label };
	char buf[256];
	int n = rc_progress_line(buf, sizeof buf, &p);
	EXPECT_EQ(n, (int)strlen(buf));
	return buf;
}

TEST(ProgressBar, ExactLine)
{
	EXPECT_EQ(
		line(12.0 / 32, 12 * MiB, 32 * MiB, 4.0 * MiB, "copy"),
		"[###########...................]  37.5%    12.0/32.0 MiB    4.0 MiB/s ETA 0:05 copy");
	EXPECT_EQ(line(0, 0, 0, 0, nullptr),
		  "[..............................]   0.0%     0.0/0.0 MiB    0.0 MiB/s ETA --:--");
	EXPECT_EQ(line(1, 32 * MiB, 32 * MiB, 8.0 * MiB, "Completed"),
		  "[##############################] 100.0%    32.0/32.0 MiB    8.0 MiB/s ETA 0:00 "
		  "Completed");
}

TEST(ProgressBar, FractionIsClamped)
{
	EXPECT_EQ(line(-0.5, 0, MiB, 0, nullptr).substr(0, 39),
		  "[..............................]   0.0%");
	EXPECT_EQ(line(7, MiB, MiB, 0, nullptr).substr(0, 39),
		  "[##############################] 100.0%");
}

TEST(ProgressBar, EtaRoundsUpAndGrowsHours)
{
	EXPECT_NE(line(0, 0, MiB + 1, MiB, nullptr).find("ETA 0:02"), std::string::npos);
	EXPECT_NE(line(0, 0, 3723 * MiB, MiB, nullptr).find("ETA 1:02:03"), std::string::npos);
}

TEST(ProgressBar, EtaUnknownWithoutRateOrAfterOvershoot)
{
	EXPECT_NE(line(0.5, MiB, 2 * MiB, 0, nullptr).find("ETA --:--"), std::string::npos);
	EXPECT_NE(line(1, 3 * MiB, 2 * MiB, MiB, nullptr).find("ETA --:--"), std::string::npos);
	EXPECT_NE(line(0, 0, UINT64_MAX, 1, nullptr).find("ETA --:--"), std::string::npos);
}

std::string drawn(const struct rc_progress &p)
{
	char *text = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	EXPECT_NE(f, nullptr);
	rc_progress_draw(f, &p);
	EXPECT_EQ(fclose(f), 0);
	std::string s(text, len);
	free(text);
	return s;
}

TEST(ProgressBar, DrawPadsOverThePreviousLine)
{
	struct rc_progress p = { 0.5, MiB, 2 * MiB, MiB, nullptr };
	std::string l = line(0.5, MiB, 2 * MiB, MiB, nullptr);
	ASSERT_LT(l.size(), (size_t)RC_PROGRESS_WIDTH);
	EXPECT_EQ(drawn(p), "\r" + l + std::string(RC_PROGRESS_WIDTH - l.size(), ' '));
	p.label = "a label long enough to go past the padded width";
	l = line(0.5, MiB, 2 * MiB, MiB, p.label);
	ASSERT_GT(l.size(), (size_t)RC_PROGRESS_WIDTH);
	EXPECT_EQ(drawn(p), "\r" + l);
}

} // namespace
