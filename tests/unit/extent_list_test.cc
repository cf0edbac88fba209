// SPDX-License-Identifier: MIT
// The engine's extent-list reader (engine/extent_list.c) on the one grammar
// of common/parse_size.h: leading zeros are decimal, suffixes and hex as
// everywhere, a bad line named by its number and nothing copied.
#include <gtest/gtest.h>
#include <cstring>
#include <fstream>
#include <resync/resync.h>
#include "engine_util.h"
#include "testutil.h"

namespace {

struct ExtentList : ::testing::Test {
	rt::TempDir tmp;
	std::string s = tmp.path("src"), d = tmp.path("dst"), list = tmp.path("list");
	rt::Bytes src = rt::random_bytes(1 << 20, 5);
	rt::Bytes dst = rt::random_bytes(1 << 20, 6);

	void SetUp() override
	{
		rt::write_file(s, src);
		rt::write_file(d, dst);
	}
	void write_list(const std::string &text)
	{
		std::ofstream(list) << text;
	}
	RunResult run()
	{
		return run_engine(s, d, RESYNC_EXTENTS, list.c_str(), 0,
				  [](resync *h) { ASSERT_EQ(resync_set_block_size(h, 4096), 0); });
	}
};

// A leading zero used to make the offset octal: 0655360 is 220912, and the
// wrong range was copied with exit 0.
TEST_F(ExtentList, LeadingZeroOffsetIsDecimal)
{
	write_list("# leading zeros are decimal\n0655360 65536\n");
	RunResult r = run();
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_written, 65536u);
	rt::Bytes want = dst;
	std::memcpy(want.data() + 655360, src.data() + 655360, 65536);
	EXPECT_TRUE(rt::read_file(d) == want);
}

TEST_F(ExtentList, SuffixesAndHexAsEverywhere)
{
	write_list("0x1000 4K\n1M-64K 64K\n");
	RunResult r = run();
	ASSERT_EQ(r.ret, -EINVAL);
	EXPECT_NE(r.error.find("line 2: the offset is not a size"), std::string::npos) << r.error;
	write_list("0x1000 4K\n960K 0x10000\n");
	r = run();
	ASSERT_EQ(r.ret, 0) << r.error;
	rt::Bytes want = dst;
	std::memcpy(want.data() + 4096, src.data() + 4096, 4096);
	std::memcpy(want.data() + (960 << 10), src.data() + (960 << 10), 65536);
	EXPECT_TRUE(rt::read_file(d) == want);
}

TEST_F(ExtentList, BadTokensNameTheLine)
{
	write_list("0 4096\n\n# fine so far\n8192 4096 extra\n");
	RunResult r = run();
	ASSERT_EQ(r.ret, -EINVAL);
	EXPECT_NE(r.error.find("line 4: unexpected text after the length"), std::string::npos)
		<< r.error;
	write_list("0 4096\n010x 1\n");
	r = run();
	ASSERT_EQ(r.ret, -EINVAL);
	EXPECT_NE(r.error.find("line 2: the offset is not a size"), std::string::npos) << r.error;
	EXPECT_TRUE(rt::read_file(d) == dst) << "a bad list must change nothing";
}

TEST_F(ExtentList, OverflowIsRefused)
{
	write_list("18446744073709551616 1\n");
	RunResult r = run();
	ASSERT_EQ(r.ret, -ERANGE);
	EXPECT_NE(r.error.find("line 1: the offset is larger than 2^64 - 1"), std::string::npos)
		<< r.error;
	write_list("0 1\n18446744073709551615 1\n");
	r = run();
	ASSERT_EQ(r.ret, -ERANGE);
	EXPECT_NE(r.error.find("line 2: extent"), std::string::npos) << r.error;
	EXPECT_TRUE(rt::read_file(d) == dst);
}

} // namespace
