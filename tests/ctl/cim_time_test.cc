// SPDX-License-Identifier: MIT
// CIM datetime intervals (ctl/cim_time.h): ElapsedTime's exact spelling,
// every field's carry, and the largest elapsed time a uint64_t holds.
#include <gtest/gtest.h>
#include <string>
extern "C" {
#include "cim_time.h"
}

namespace {

std::string interval(uint64_t ns)
{
	char buf[CTL_CIM_INTERVAL_LEN];
	ctl_cim_interval(ns, buf);
	return buf;
}

TEST(CimTime, IntervalFields)
{
	EXPECT_EQ(interval(0), "00000000000000.000000:000");
	EXPECT_EQ(interval(999), "00000000000000.000000:000");
	EXPECT_EQ(interval(1500), "00000000000000.000001:000");
	EXPECT_EQ(interval(59999999999ull), "00000000000059.999999:000");
	EXPECT_EQ(interval(60000000000ull), "00000000000100.000000:000");
	EXPECT_EQ(interval(3600000000000ull), "00000000010000.000000:000");
	EXPECT_EQ(interval(86400000000000ull + 3723000004000ull), "00000001010203.000004:000");
	EXPECT_EQ(interval(UINT64_MAX), "00213503233433.709551:000");
}

} // namespace
