// SPDX-License-Identifier: MIT
// The --disk grammar (common/disk_spec.h): NAME=TARGET{,KEY[=VALUE]},
// escapes "\," and "\\", keys matched whole, and every refusal.
#include <gtest/gtest.h>
#include <cerrno>
#include <string>
#include <vector>
#include "disk_spec.h"

namespace {

struct Parsed {
	int ret;
	std::string name, target;
	std::vector<std::string> text, values; // "(none)" for an option without '='
};

Parsed parse(const char *s)
{
	struct rc_disk_spec ds;
	Parsed p;
	p.ret = rc_disk_spec_parse(s, &ds);
	if (!p.ret) {
		p.name = ds.name;
		p.target = ds.target;
		for (size_t i = 0; i < ds.n; i++) {
			p.text.push_back(ds.opt[i].text);
			p.values.push_back(ds.opt[i].value ? ds.opt[i].value : "(none)");
		}
	}
	rc_disk_spec_free(&ds);
	return p;
}

TEST(DiskSpec, NameTargetAndOptions)
{
	Parsed p = parse("d0=/img,bitmap=/b.bm,consistent,base=");
	ASSERT_EQ(p.ret, 0);
	EXPECT_EQ(p.name, "d0");
	EXPECT_EQ(p.target, "/img");
	EXPECT_EQ(p.text, (std::vector<std::string>{ "bitmap=/b.bm", "consistent", "base=" }));
	EXPECT_EQ(p.values, (std::vector<std::string>{ "/b.bm", "(none)", "" }));

	p = parse("d1=nbd+unix:///x?socket=/s");
	ASSERT_EQ(p.ret, 0);
	EXPECT_EQ(p.name, "d1");
	EXPECT_EQ(p.target, "nbd+unix:///x?socket=/s");
	EXPECT_TRUE(p.text.empty());
}

TEST(DiskSpec, EscapesInTargetAndValues)
{
	Parsed p = parse("d0=/a\\,b\\\\c\\d,extents=/e\\,f,=x,");
	ASSERT_EQ(p.ret, 0);
	EXPECT_EQ(p.target, "/a,b\\c\\d");
	EXPECT_EQ(p.text, (std::vector<std::string>{ "extents=/e,f", "=x", "" }));
	EXPECT_EQ(p.values, (std::vector<std::string>{ "/e,f", "x", "(none)" }));
	// The name ends at the first '=', whatever follows.
	p = parse("a=b=c");
	ASSERT_EQ(p.ret, 0);
	EXPECT_EQ(p.name, "a");
	EXPECT_EQ(p.target, "b=c");
	// A lone backslash at the end, or before another character, is itself.
	p = parse("d0=a\\b,x=c\\");
	ASSERT_EQ(p.ret, 0);
	EXPECT_EQ(p.target, "a\\b");
	EXPECT_EQ(p.values, (std::vector<std::string>{ "c\\" }));
}

TEST(DiskSpec, Refusals)
{
	for (const char *s : { "", "d0", "=/img", "d0=", "d0=,bitmap=/b" })
		EXPECT_EQ(parse(s).ret, -EINVAL) << '"' << s << '"';
	std::string many = "d0=/t";
	for (int i = 0; i < RC_DISK_SPEC_MAX_OPTIONS; i++)
		many += ",o" + std::to_string(i);
	Parsed p = parse(many.c_str());
	ASSERT_EQ(p.ret, 0);
	EXPECT_EQ(p.text.size(), (size_t)RC_DISK_SPEC_MAX_OPTIONS);
	EXPECT_EQ(parse((many + ",one-too-many").c_str()).ret, -EINVAL);
}

TEST(DiskSpec, KeysMatchWhole)
{
	struct rc_disk_spec ds;
	ASSERT_EQ(rc_disk_spec_parse("d=/t,generation=1,gen=2,consistent,consistently", &ds), 0);
	ASSERT_EQ(ds.n, 4u);
	EXPECT_TRUE(rc_disk_option_is(&ds.opt[0], "generation"));
	EXPECT_FALSE(rc_disk_option_is(&ds.opt[0], "gen"));
	EXPECT_TRUE(rc_disk_option_is(&ds.opt[1], "gen"));
	EXPECT_FALSE(rc_disk_option_is(&ds.opt[1], "generation"));
	EXPECT_TRUE(rc_disk_option_is(&ds.opt[2], "consistent"));
	EXPECT_FALSE(rc_disk_option_is(&ds.opt[3], "consistent"));
	rc_disk_spec_free(&ds);
}

} // namespace
