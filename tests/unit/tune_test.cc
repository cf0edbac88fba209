// SPDX-License-Identifier: MIT
// Request size and queue depth chosen per run from what the endpoints report
// (engine/tune.c): real loop devices whose queue limits the test sets in
// sysfs (max_sectors_kb, nr_requests), a file on tmpfs that reports nothing,
// and the caller's settings winning over every report.  Exact values.
#include <gtest/gtest.h>
#include <fstream>
#include <resync/resync.h>
#include "testutil.h"
#include "tune_checks.h"

namespace {

constexpr uint64_t KiB = 1024, MiB = 1 << 20;

using tune::Choice;
using tune::expect_choice;
using tune::run_copy;

std::string queue_path(const std::string &dev, const std::string &attr)
{
	return "/sys/block/" + dev.substr(dev.rfind('/') + 1) + "/queue/" + attr;
}

unsigned get_queue(const std::string &dev, const std::string &attr)
{
	std::ifstream f(queue_path(dev, attr));
	unsigned v = 0;
	f >> v;
	return v;
}

// Writes a queue limit of a loop device; false when sysfs refuses it.
bool set_queue(const std::string &dev, const std::string &attr, unsigned value)
{
	std::ofstream f(queue_path(dev, attr));
	f << value << "\n";
	f.close();
	return !f.fail();
}

class LoopPair : public ::testing::Test {
protected:
	void SetUp() override
	{
		src_ = rt::random_bytes(16 * MiB, 61);
		rt::write_file(tmp_.path("a"), src_);
		rt::write_file(tmp_.path("b"), rt::random_bytes(16 * MiB, 62));
		a_ = std::make_unique<rt::LoopDevice>(tmp_.path("a"));
		b_ = std::make_unique<rt::LoopDevice>(tmp_.path("b"));
		ASSERT_TRUE(a_->ok() && b_->ok()) << "losetup failed";
		// The limits outlive the loop device's attachment: whoever
		// gets its number next must find them as they were.
		for (auto *l : { a_.get(), b_.get() })
			for (const char *attr : { "max_sectors_kb", "nr_requests" })
				saved_.push_back({ l->dev(), attr, get_queue(l->dev(), attr) });
		// Source: 64 requests of at most 128 KiB fill its queue (8 MiB);
		// target: 32 of 64 KiB (2 MiB).
		ASSERT_TRUE(set_queue(a_->dev(), "max_sectors_kb", 128));
		ASSERT_TRUE(set_queue(a_->dev(), "nr_requests", 64));
		ASSERT_TRUE(set_queue(b_->dev(), "max_sectors_kb", 64));
		ASSERT_TRUE(set_queue(b_->dev(), "nr_requests", 32));
	}
	void TearDown() override
	{
		for (auto &q : saved_)
			set_queue(q.dev, q.attr, q.value);
	}
	struct Saved {
		std::string dev, attr;
		unsigned value;
	};
	std::vector<Saved> saved_;
	rt::TempDir tmp_;
	rt::Bytes src_;
	std::unique_ptr<rt::LoopDevice> a_, b_;
};

// No device takes more than 128 KiB whole, so requests stay at 1 MiB; the
// deeper queue (the source's 8 MiB) needs 8 of them in flight.
TEST_F(LoopPair, DepthFillsTheDeepestDeviceQueue)
{
	Choice c = run_copy(a_->dev(), b_->dev());
	ASSERT_NO_FATAL_FAILURE(expect_choice(c, 1 * MiB, 8u));
	EXPECT_EQ(c.write, RESYNC_WRITE_DIRECT) << c.why;
	EXPECT_NE(c.why.find("source: device largest request 128 KiB queue 64"), std::string::npos)
		<< c.why;
	EXPECT_NE(c.why.find("target: device largest request 64 KiB queue 32"), std::string::npos)
		<< c.why;
	EXPECT_TRUE(rt::read_file(tmp_.path("b")) == src_);
}

// A request size set by the caller is kept, and the depth still fills the
// source's queue: 8 MiB in 256 KiB requests.
TEST_F(LoopPair, RequestSetByTheCallerWins)
{
	Choice c = run_copy(a_->dev(), b_->dev(), 256 * KiB);
	ASSERT_NO_FATAL_FAILURE(expect_choice(c, 256 * KiB, 32u));
	EXPECT_TRUE(rt::read_file(tmp_.path("b")) == src_);
}

TEST_F(LoopPair, BothSetByTheCallerWin)
{
	Choice c = run_copy(a_->dev(), b_->dev(), 256 * KiB, 3);
	ASSERT_NO_FATAL_FAILURE(
		expect_choice(c, 256 * KiB, 3u, "request 256 KiB (as set), depth 3 (as set)"));
	EXPECT_TRUE(rt::read_file(tmp_.path("b")) == src_);
}

// A device that takes 1 MiB whole and queues 4 of them: the memory bound
// is not reached, the depth is what fills the queue (4), never below 2.
TEST_F(LoopPair, ShallowQueueGetsTheDepthItFills)
{
	ASSERT_TRUE(set_queue(a_->dev(), "max_sectors_kb", 1024));
	ASSERT_TRUE(set_queue(a_->dev(), "nr_requests", 4));
	Choice c = run_copy(a_->dev(), b_->dev());
	ASSERT_NO_FATAL_FAILURE(expect_choice(c, 1 * MiB, 4u));
	ASSERT_TRUE(set_queue(a_->dev(), "nr_requests", 1));
	ASSERT_TRUE(set_queue(a_->dev(), "max_sectors_kb", 4));
	ASSERT_TRUE(set_queue(b_->dev(), "max_sectors_kb", 4));
	ASSERT_TRUE(set_queue(b_->dev(), "nr_requests", 1));
	c = run_copy(a_->dev(), b_->dev());
	ASSERT_EQ(c.ret, 0) << c.error;
	EXPECT_EQ(c.depth, 2u) << c.why;
	EXPECT_TRUE(rt::read_file(tmp_.path("b")) == src_);
}

// Files on a tmpfs of their own: no device, no queue.
class OnTmpfs : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = tmp_.path("tmpfs");
		ASSERT_EQ(rt::sh("mkdir " + dir_ + " && mount -t tmpfs -o size=64m none " + dir_),
			  0);
	}
	void TearDown() override
	{
		EXPECT_EQ(rt::sh("umount " + dir_), 0);
	}
	// A random source s and another random target d of size bytes.
	void fill(uint64_t size, int seed)
	{
		src_ = rt::random_bytes(size, seed);
		rt::write_file(s(), src_);
		rt::write_file(d(), rt::random_bytes(size, seed + 1));
	}
	std::string s() const
	{
		return dir_ + "/s";
	}
	std::string d() const
	{
		return dir_ + "/d";
	}
	rt::TempDir tmp_;
	std::string dir_;
	rt::Bytes src_;
};

// The defaults' memory, 32 x 1 MiB.
TEST_F(OnTmpfs, FilesWithoutADeviceKeepTheMemoryBound)
{
	fill(4 * MiB, 63);
	Choice c = run_copy(s(), d());
	ASSERT_NO_FATAL_FAILURE(
		expect_choice(c, 1 * MiB, 32u, "depth 32 (the memory bound, no queue reported)"));
	EXPECT_TRUE(rt::read_file(d()) == src_);
}

// A 4 KiB request set by the caller (in 4 KiB blocks): the memory bound
// alone would be 8192 requests, past the deepest queue the engine takes
// (1024, what resync_set_queue_depth() accepts): the depth stops there and
// says so.
TEST_F(OnTmpfs, SmallRequestStopsAtTheDeepestQueue)
{
	fill(8 * MiB, 65);
	Choice c = run_copy(s(), d(), 4096, 0, 4096);
	ASSERT_NO_FATAL_FAILURE(
		expect_choice(c, 4096, 1024u,
			      "depth 1024 (the engine's deepest queue, no queue reported)"));
	EXPECT_TRUE(rt::read_file(d()) == src_);
}

} // namespace
