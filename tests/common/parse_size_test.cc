// SPDX-License-Identifier: MIT
// The one size and extent-line grammar (common/parse_size.h): decimal with
// leading zeros read as decimal, 0x hex, K/M/G/T suffixes, overflow refused,
// and bad extent lines named.
#include <gtest/gtest.h>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>
#include "parse_size.h"

namespace {

uint64_t size_of(const char *s)
{
	uint64_t v = 12345;
	EXPECT_EQ(rc_parse_size(s, &v), 0) << s;
	return v;
}

int size_err(const char *s)
{
	uint64_t v = 12345;
	int ret = rc_parse_size(s, &v);
	EXPECT_EQ(v, 12345u) << "output changed on failure for " << s;
	return ret;
}

TEST(ParseSize, DecimalWithLeadingZerosIsDecimal)
{
	EXPECT_EQ(size_of("0"), 0u);
	EXPECT_EQ(size_of("4096"), 4096u);
	EXPECT_EQ(size_of("0655360"), 655360u);
	EXPECT_EQ(size_of("010"), 10u);
	EXPECT_EQ(size_of("08"), 8u);
	EXPECT_EQ(size_of("00000"), 0u);
}

TEST(ParseSize, HexNeedsItsPrefix)
{
	EXPECT_EQ(size_of("0x10"), 16u);
	EXPECT_EQ(size_of("0XfF"), 255u);
	EXPECT_EQ(size_of("0x1B"), 27u);
	EXPECT_EQ(size_of("0xffffffffffffffff"), UINT64_MAX);
	EXPECT_EQ(size_err("0x"), -EINVAL);
	EXPECT_EQ(size_err("0xg"), -EINVAL);
	EXPECT_EQ(size_err("ff"), -EINVAL);
}

TEST(ParseSize, SuffixesArePowersOf1024)
{
	EXPECT_EQ(size_of("64K"), 64u << 10);
	EXPECT_EQ(size_of("64k"), 64u << 10);
	EXPECT_EQ(size_of("1M"), 1u << 20);
	EXPECT_EQ(size_of("1MB"), 1u << 20);
	EXPECT_EQ(size_of("2GiB"), 2ull << 30);
	EXPECT_EQ(size_of("1T"), 1ull << 40);
	EXPECT_EQ(size_of("0x10K"), 16u << 10);
	EXPECT_EQ(size_of("010K"), 10u << 10);
	EXPECT_EQ(size_err("1P"), -EINVAL);
	EXPECT_EQ(size_err("1Kb"), -EINVAL);
	EXPECT_EQ(size_err("1Ki"), -EINVAL);
	EXPECT_EQ(size_err("1KK"), -EINVAL);
	EXPECT_EQ(size_err("K"), -EINVAL);
}

TEST(ParseSize, AnythingElseIsRefused)
{
	for (const char *s : { "", " 1", "1 ", "+1", "-1", "1.5", "1e3", "12abc", "0o17", "1_000" })
		EXPECT_EQ(size_err(s), -EINVAL) << "'" << s << "'";
}

TEST(ParseSize, OverflowIsRefusedNotWrapped)
{
	EXPECT_EQ(size_of("18446744073709551615"), UINT64_MAX);
	EXPECT_EQ(size_err("18446744073709551616"), -ERANGE);
	EXPECT_EQ(size_err("99999999999999999999999"), -ERANGE);
	EXPECT_EQ(size_err("0x10000000000000000"), -ERANGE);
	EXPECT_EQ(size_of("16777215T"), 16777215ull << 40);
	EXPECT_EQ(size_err("16777216T"), -ERANGE);
	EXPECT_EQ(size_err("18446744073709551615K"), -ERANGE);
}

int line(const char *s, uint64_t *off, uint64_t *len, const char **why)
{
	return rc_parse_extent_line(s, strlen(s), off, len, why);
}

TEST(ExtentLine, OffsetAndLength)
{
	uint64_t off, len;
	const char *why = nullptr;
	EXPECT_EQ(line("0655360 65536\n", &off, &len, &why), 1);
	EXPECT_EQ(off, 655360u);
	EXPECT_EQ(len, 65536u);
	EXPECT_EQ(line("\t0x10000\t64K  # a comment\r\n", &off, &len, &why), 1);
	EXPECT_EQ(off, 65536u);
	EXPECT_EQ(len, 65536u);
	EXPECT_EQ(line("1 2#x", &off, &len, &why), 1);
	EXPECT_EQ(len, 2u);
}

TEST(ExtentLine, BlankAndCommentLinesAreSkipped)
{
	uint64_t off, len;
	const char *why = nullptr;
	for (const char *s : { "", "\n", "   \t\r\n", "# 1 2", "  #" })
		EXPECT_EQ(line(s, &off, &len, &why), 0) << "'" << s << "'";
}

TEST(ExtentLine, BadLinesSayWhy)
{
	uint64_t off, len;
	const char *why = nullptr;
	EXPECT_EQ(line("4096\n", &off, &len, &why), -EINVAL);
	EXPECT_STREQ(why, "expected \"offset length\": the length is missing");
	EXPECT_EQ(line("4O96 1\n", &off, &len, &why), -EINVAL);
	EXPECT_NE(std::string(why).find("the offset is not a size"), std::string::npos);
	EXPECT_EQ(line("0 -1\n", &off, &len, &why), -EINVAL);
	EXPECT_NE(std::string(why).find("the length is not a size"), std::string::npos);
	EXPECT_EQ(line("0 1 2\n", &off, &len, &why), -EINVAL);
	EXPECT_STREQ(why, "unexpected text after the length");
	EXPECT_EQ(line("99999999999999999999 1\n", &off, &len, &why), -ERANGE);
	EXPECT_STREQ(why, "the offset is larger than 2^64 - 1");
	EXPECT_EQ(rc_parse_extent_line("0 1\0 5", 6, &off, &len, &why), -EINVAL);
	EXPECT_STREQ(why, "a NUL byte in the line");
}

// The reading loop both extent-list readers use (engine/extent_list.c,
// resync-bitmap create --extents).
struct Listed {
	std::vector<std::pair<uint64_t, uint64_t>> got;
	std::vector<unsigned> lines;
	const unsigned *lineno = nullptr;
	size_t stop_at = SIZE_MAX;
};

int collect(void *arg, uint64_t off, uint64_t len)
{
	auto *l = static_cast<Listed *>(arg);
	if (l->got.size() == l->stop_at)
		return -E2BIG;
	l->got.emplace_back(off, len);
	l->lines.push_back(*l->lineno);
	return 0;
}

int read_list(const std::string &text, Listed *l, unsigned *lineno, const char **why)
{
	FILE *f = fmemopen((void *)text.data(), text.size(), "r");
	l->lineno = lineno;
	int ret = rc_read_extent_list(f, collect, l, lineno, why);
	fclose(f);
	return ret;
}

TEST(ExtentListRead, EachExtentWithItsLineNumber)
{
	Listed l;
	unsigned lineno;
	const char *why = nullptr;
	ASSERT_EQ(read_list("# head\n0 4K\n\n0x10000 0\n1M 64K", &l, &lineno, &why), 0);
	std::vector<std::pair<uint64_t, uint64_t>> want = { { 0, 4096 },
							    { 65536, 0 },
							    { 1 << 20, 65536 } };
	EXPECT_EQ(l.got, want);
	EXPECT_EQ(l.lines, (std::vector<unsigned>{ 2, 4, 5 }));
	EXPECT_EQ(lineno, 5u);
}

TEST(ExtentListRead, BadLineStopsWithItsNumberAndWhy)
{
	Listed l;
	unsigned lineno;
	const char *why = nullptr;
	EXPECT_EQ(read_list("0 1\n\n2 3 4\n5 6\n", &l, &lineno, &why), -EINVAL);
	EXPECT_EQ(lineno, 3u);
	EXPECT_STREQ(why, "unexpected text after the length");
	EXPECT_EQ(l.got.size(), 1u);
	EXPECT_EQ(read_list("99999999999999999999 1\n", &l, &lineno, &why), -ERANGE);
	EXPECT_EQ(lineno, 1u);
}

TEST(ExtentListRead, CallbackValueStopsTheRead)
{
	Listed l;
	l.stop_at = 1;
	unsigned lineno;
	const char *why = nullptr;
	EXPECT_EQ(read_list("0 1\n2 3\n4 5\n", &l, &lineno, &why), -E2BIG);
	EXPECT_EQ(lineno, 2u);
	EXPECT_EQ(l.got.size(), 1u);
}

TEST(ExtentListRead, ReadErrorIsEIO)
{
	FILE *f = fopen("/proc/self/mem", "r");
	ASSERT_NE(f, nullptr);
	Listed l;
	unsigned lineno;
	const char *why = nullptr;
	l.lineno = &lineno;
	EXPECT_EQ(rc_read_extent_list(f, collect, &l, &lineno, &why), -EIO);
	EXPECT_STREQ(why, "read error");
	fclose(f);
}

} // namespace
