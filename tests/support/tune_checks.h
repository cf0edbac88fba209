// SPDX-License-Identifier: MIT
// Request size and depth checks (engine/tune.c) shared by the suites that
// run them over different endpoints (tests/unit/tune_test.cc on loop
// devices and tmpfs, tests/nbd/tune_test.cc on nbdkit): one copy run that
// reads back resync_io_choice(), and one check of its outcome.
#pragma once

#include <gtest/gtest.h>
#include <string>
#include <resync/resync.h>

namespace tune {

struct Choice {
	int ret;
	uint32_t request;
	unsigned depth;
	resync_write_mode write;
	std::string why, error;
};

// A full copy s -> d, request size, depth and plan block set when not 0.
inline Choice run_copy(const std::string &s, const std::string &d, uint32_t request = 0,
		       unsigned depth = 0, uint32_t block = 0)
{
	resync *r = resync_new();
	Choice c{};
	EXPECT_EQ(resync_set_source(r, s.c_str()), 0);
	EXPECT_EQ(resync_set_target(r, d.c_str()), 0);
	EXPECT_EQ(resync_set_mode(r, RESYNC_FULL, nullptr), 0);
	if (block) {
		EXPECT_EQ(resync_set_block_size(r, block), 0);
	}
	if (request) {
		EXPECT_EQ(resync_set_request_size(r, request), 0);
	}
	if (depth) {
		EXPECT_EQ(resync_set_queue_depth(r, depth), 0);
	}
	c.ret = resync_run(r);
	c.error = resync_error(r);
	c.why = resync_io_choice(r, &c.request, &c.depth, &c.write);
	resync_free(r);
	return c;
}

// The copy succeeded with exactly this request size and depth, and its
// report says `says` (when not empty).  Callers wrap it in
// ASSERT_NO_FATAL_FAILURE: a failed copy ends the test.
inline void expect_choice(const Choice &c, uint32_t request, unsigned depth,
			  const std::string &says = "")
{
	ASSERT_EQ(c.ret, 0) << c.error;
	EXPECT_EQ(c.request, request) << c.why;
	EXPECT_EQ(c.depth, depth) << c.why;
	if (!says.empty()) {
		EXPECT_NE(c.why.find(says), std::string::npos) << c.why;
	}
}

} // namespace tune
