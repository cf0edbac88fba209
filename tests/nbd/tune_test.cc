// SPDX-License-Identifier: MIT
// Request size and depth from NBD servers' block sizes (engine/tune.c): both
// ends served by nbdkit's file plugin behind the blocksize-policy filter,
// which advertises the preferred and maximum block sizes set here.  Exact
// values; the caller's settings win.
#include <gtest/gtest.h>
#include <resync/resync.h>
#include "servers.h"

namespace {

constexpr uint64_t KiB = 1024, MiB = 1 << 20;

struct Choice {
	int ret;
	uint32_t request;
	unsigned depth;
	std::string why, error;
};

Choice run_copy(const std::string &s, const std::string &d, uint32_t request = 0)
{
	resync *r = resync_new();
	Choice c{};
	EXPECT_EQ(resync_set_source(r, s.c_str()), 0);
	EXPECT_EQ(resync_set_target(r, d.c_str()), 0);
	EXPECT_EQ(resync_set_mode(r, RESYNC_FULL, nullptr), 0);
	if (request) {
		EXPECT_EQ(resync_set_request_size(r, request), 0);
	}
	c.ret = resync_run(r);
	c.error = resync_error(r);
	c.why = resync_io_choice(r, &c.request, &c.depth, nullptr);
	resync_free(r);
	return c;
}

class Served : public ::testing::Test {
protected:
	void serve(const std::string &preferred, const std::string &maximum)
	{
		src_ = rt::random_bytes(16 * MiB, 81);
		rt::write_file(tmp_.path("s"), src_);
		rt::write_file(tmp_.path("d"), rt::random_bytes(16 * MiB, 82));
		std::vector<std::string> filter = { "--filter=blocksize-policy",
						    "blocksize-preferred=" + preferred,
						    "blocksize-maximum=" + maximum };
		auto args = [&](const std::string &file) {
			std::vector<std::string> a = filter;
			a.insert(a.begin(), { "file", file });
			return a;
		};
		s_ = nbdt::nbdkit(tmp_, "s", args(tmp_.path("s")));
		d_ = nbdt::nbdkit(tmp_, "d", args(tmp_.path("d")));
		ASSERT_TRUE(s_->ok()) << s_->log();
		ASSERT_TRUE(d_->ok()) << d_->log();
	}
	rt::TempDir tmp_;
	rt::Bytes src_;
	std::unique_ptr<nbdt::Server> s_, d_;
};

// Servers preferring 2 MiB get 2 MiB requests, 16 of them (the 32 MiB
// memory bound: NBD reports no queue).
TEST_F(Served, PreferredBlockSizeSetsTheRequest)
{
	serve("2M", "32M");
	Choice c = run_copy(s_->uri(), d_->uri());
	ASSERT_EQ(c.ret, 0) << c.error;
	EXPECT_EQ(c.request, 2 * MiB) << c.why;
	EXPECT_EQ(c.depth, 16u) << c.why;
	EXPECT_NE(c.why.find("request 2048 KiB (an endpoint's preferred size)"), std::string::npos)
		<< c.why;
	EXPECT_TRUE(rt::read_file(tmp_.path("d")) == src_);
}

// A maximum below the chosen size caps every request (the server would
// refuse longer ones), and the report says so.
TEST_F(Served, MaximumCapsTheRequest)
{
	serve("64K", "256K");
	Choice c = run_copy(s_->uri(), d_->uri());
	ASSERT_EQ(c.ret, 0) << c.error;
	EXPECT_EQ(c.request, 256 * KiB) << c.why;
	EXPECT_EQ(c.depth, 32u) << c.why;
	EXPECT_NE(c.why.find("requests of 256 KiB at most"), std::string::npos) << c.why;
	EXPECT_TRUE(rt::read_file(tmp_.path("d")) == src_);
}

TEST_F(Served, RequestSetByTheCallerWins)
{
	serve("2M", "32M");
	Choice c = run_copy(s_->uri(), d_->uri(), 128 * KiB);
	ASSERT_EQ(c.ret, 0) << c.error;
	EXPECT_EQ(c.request, 128 * KiB) << c.why;
	EXPECT_EQ(c.depth, 256u) << c.why;
	EXPECT_TRUE(rt::read_file(tmp_.path("d")) == src_);
}

} // namespace
