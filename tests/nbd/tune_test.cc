// SPDX-License-Identifier: MIT
// Request size and depth from NBD servers' block sizes (engine/tune.c): both
// ends served by nbdkit's file plugin behind the blocksize-policy filter,
// which advertises the preferred and maximum block sizes set here.  Exact
// values; the caller's settings win.
#include <gtest/gtest.h>
#include <resync/resync.h>
#include "servers.h"
#include "tune_checks.h"

namespace {

constexpr uint64_t KiB = 1024, MiB = 1 << 20;

using tune::Choice;
using tune::expect_choice;
using tune::run_copy;

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
	ASSERT_NO_FATAL_FAILURE(
		expect_choice(c, 2 * MiB, 16u, "request 2048 KiB (an endpoint's preferred size)"));
	EXPECT_TRUE(rt::read_file(tmp_.path("d")) == src_);
}

// A maximum below the chosen size caps every request (the server would
// refuse longer ones), and the report says so.
TEST_F(Served, MaximumCapsTheRequest)
{
	serve("64K", "256K");
	Choice c = run_copy(s_->uri(), d_->uri());
	ASSERT_NO_FATAL_FAILURE(expect_choice(c, 256 * KiB, 32u, "requests of 256 KiB at most"));
	EXPECT_TRUE(rt::read_file(tmp_.path("d")) == src_);
}

TEST_F(Served, RequestSetByTheCallerWins)
{
	serve("2M", "32M");
	Choice c = run_copy(s_->uri(), d_->uri(), 128 * KiB);
	ASSERT_NO_FATAL_FAILURE(expect_choice(c, 128 * KiB, 256u));
	EXPECT_TRUE(rt::read_file(tmp_.path("d")) == src_);
}

} // namespace
