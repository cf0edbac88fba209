// SPDX-License-Identifier: MIT
// ctl_trust_decide(): each rule of doc/trust.md fires on its facts, in the
// documented order, and anything short of every check passing is compare.
#include <gtest/gtest.h>
#include <cstring>
extern "C" {
#include "guid.h"
#include "trust.h"
#include "vm.h"
}

namespace {

constexpr const char *kGen = "0123456789abcdef0123456789abcdef";

// Facts under which every rule up to record-trusted passes.
ctl_trust_facts trusted()
{
	ctl_trust_facts f{};
	f.requested = CTL_CS_AUTO;
	f.target_generation = kGen;
	f.record_kind = "bitmap";
	f.record_consistent = true;
	f.record_has_generation = true;
	EXPECT_EQ(rc_guid_parse(kGen, f.record_generation), 0);
	return f;
}

ctl_trust decide(const ctl_trust_facts &f)
{
	ctl_trust t;
	ctl_trust_decide(&f, &t);
	return t;
}

// A resume of job j with its checkpoint, bound to unchanged content.
ctl_trust_facts resuming(enum ctl_change_source cs)
{
	ctl_trust_facts f = trusted();
	f.target_inconsistent = true;
	f.has_resume = true;
	f.resume_job = "j";
	f.resume_cs = cs;
	f.binding_diff = "";
	f.checkpoint_present = true;
	return f;
}

TEST(TrustRules, RecordTrustedOnlyWhenEverythingHolds)
{
	ctl_trust t = decide(trusted());
	ASSERT_STREQ(t.rule, "record-trusted") << t.reason;
	EXPECT_EQ(t.verdict, CTL_TRUST_USE_RECORD);
	EXPECT_EQ(t.cs, CTL_CS_BITMAP);
}

TEST(TrustRules, EachFailedCheckIsCompareWithItsRule)
{
	struct {
		const char *rule;
		void (*spoil)(ctl_trust_facts &);
	} cases[] = {
		{ "inconsistent", [](ctl_trust_facts &f) { f.target_inconsistent = true; } },
		{ "no-record", [](ctl_trust_facts &f) { f.record_kind = nullptr; } },
		{ "record-unusable", [](ctl_trust_facts &f) { f.record_unusable = true; } },
		{ "record-unclean", [](ctl_trust_facts &f) { f.record_consistent = false; } },
		{ "generation-mismatch",
		  [](ctl_trust_facts &f) { f.record_has_generation = false; } },
		{ "generation-mismatch", [](ctl_trust_facts &f) { f.record_generation[15] ^= 1; } },
		{ "generation-mismatch", [](ctl_trust_facts &f) { f.target_generation = ""; } },
		{ "generation-mismatch",
		  [](ctl_trust_facts &f) { f.target_generation = nullptr; } },
	};
	for (auto &c : cases) {
		ctl_trust_facts f = trusted();
		c.spoil(f);
		ctl_trust t = decide(f);
		EXPECT_STREQ(t.rule, c.rule) << t.reason;
		EXPECT_EQ(t.verdict, CTL_TRUST_COMPARE) << c.rule;
		EXPECT_EQ(t.cs, CTL_CS_COMPARE) << c.rule;
	}
}

TEST(TrustRules, InconsistentWinsOverATrustedRecord)
{
	ctl_trust_facts f = trusted();
	f.target_inconsistent = true;
	EXPECT_STREQ(decide(f).rule, "inconsistent");
}

TEST(TrustRules, ResumeOnlyOfUnchangedContentWithItsCheckpoint)
{
	ctl_trust t = decide(resuming(CTL_CS_BITMAP));
	EXPECT_STREQ(t.rule, "resume") << t.reason;
	EXPECT_EQ(t.verdict, CTL_TRUST_RESUME);
	EXPECT_EQ(t.cs, CTL_CS_BITMAP);

	ctl_trust_facts f = resuming(CTL_CS_BITMAP);
	f.binding_diff = "Image was \"a\", now \"b\"";
	t = decide(f);
	EXPECT_STREQ(t.rule, "inconsistent");
	EXPECT_NE(strstr(t.reason, "recovery point changed"), nullptr) << t.reason;

	f = resuming(CTL_CS_BITMAP);
	f.checkpoint_present = false;
	t = decide(f);
	EXPECT_STREQ(t.rule, "inconsistent");
	EXPECT_NE(strstr(t.reason, "checkpoint is gone"), nullptr) << t.reason;

	// Without a checkpoint a compare resume is a fresh compare: allowed.
	f = resuming(CTL_CS_COMPARE);
	f.checkpoint_present = false;
	EXPECT_STREQ(decide(f).rule, "resume");

	f = resuming(CTL_CS_EXTENTS);
	f.resume_job_failed = true;
	t = decide(f);
	EXPECT_STREQ(t.rule, "inconsistent");
	EXPECT_NE(strstr(t.reason, "failed while using its extents"), nullptr) << t.reason;

	f = resuming(CTL_CS_COMPARE);
	f.resume_job_failed = true;
	EXPECT_STREQ(decide(f).rule, "resume");

	f = resuming(CTL_CS_BITMAP);
	f.requested = CTL_CS_FULL;
	t = decide(f);
	EXPECT_STREQ(t.rule, "requested");
	EXPECT_EQ(t.cs, CTL_CS_FULL);
	EXPECT_NE(strstr(t.reason, "the settings ask for full"), nullptr) << t.reason;
}

// A tracking log left open is trusted with its hot regions, as the bitmap
// it is read as, but only after every other check passed.
TEST(TrustRules, RecoveredTrackLogIsTrustedOnlyWhenEverythingElseHolds)
{
	ctl_trust_facts f = trusted();
	f.record_kind = "track";
	f.record_recovered = true;
	f.record_open = true;
	f.record_hot_regions = 1;
	ctl_trust t = decide(f);
	EXPECT_STREQ(t.rule, "record-recovered") << t.reason;
	EXPECT_EQ(t.verdict, CTL_TRUST_USE_RECORD);
	EXPECT_EQ(t.cs, CTL_CS_BITMAP);
	EXPECT_STREQ(t.reason,
		     "track change record was left open (its server stopped without a clean "
		     "close, or still runs): its 1 hot region is counted as written (an "
		     "over-approximation), and its generation matches the target");

	f.record_recovered = false;
	t = decide(f);
	EXPECT_STREQ(t.rule, "record-trusted") << t.reason;
	EXPECT_EQ(t.cs, CTL_CS_BITMAP);

	f.record_recovered = true;
	f.record_generation[0] ^= 1;
	EXPECT_STREQ(decide(f).rule, "generation-mismatch");
	f = trusted();
	f.record_kind = "track";
	f.record_recovered = true;
	f.record_unusable = true;
	EXPECT_STREQ(decide(f).rule, "record-unusable");
	EXPECT_EQ(ctl_trust_record_source("track"), CTL_CS_BITMAP);
	EXPECT_EQ(ctl_trust_record_source("extents"), CTL_CS_EXTENTS);
	EXPECT_EQ(ctl_trust_record_source("nonsense"), CTL_CS_COMPARE);
}

TEST(TrustRules, VerifyMismatchIsCompareWhateverElseHolds)
{
	ctl_trust_facts f = trusted();
	f.verify_unplanned_diff = true;
	ctl_trust t = decide(f);
	EXPECT_STREQ(t.rule, "verify-mismatch");
	EXPECT_EQ(t.cs, CTL_CS_COMPARE);
}

} // namespace
