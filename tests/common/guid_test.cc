// SPDX-License-Identifier: MIT
// GUIDs (common/guid.h): the one grammar (32 hex digits or 8-4-4-4-12, any
// case), lower-case spellings, version-4 random ids, and a failing
// getrandom(2) returned as its errno, never an id.
#include <gtest/gtest.h>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <unistd.h>
#include "guid.h"
#include "testutil.h"

namespace {

const uint8_t kId[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
			  0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };

TEST(Guid, ReadsBothSpellingsInEitherCase)
{
	for (const char *s :
	     { "0123456789abcdeffedcba9876543210", "0123456789ABCDEFFEDCBA9876543210",
	       "01234567-89ab-cdef-fedc-ba9876543210", "01234567-89AB-CDEF-FEDC-BA9876543210" }) {
		uint8_t id[16] = {};
		ASSERT_EQ(rc_guid_parse(s, id), 0) << s;
		EXPECT_EQ(memcmp(id, kId, 16), 0) << s;
	}
}

TEST(Guid, RefusesAnythingElseAndLeavesNoPartialId)
{
	for (const char *s :
	     { "", "0", "0123456789abcdeffedcba987654321", "0123456789abcdeffedcba98765432100",
	       "0123456789abcdeffedcba987654321g", "0123456789abcdef-fedcba987654321",
	       "01234567-89ab-cdef-fedcba9876543210", "0123456-789ab-cdef-fedc-ba9876543210",
	       "{01234567-89ab-cdef-fedc-ba98765432}", " 0123456789abcdeffedcba987654321",
	       "01234567-89ab-cdef-fedc-ba987654321 ", "-0123456789abcdeffedcba987654321",
	       "0x23456789abcdeffedcba9876543210" }) {
		uint8_t id[16];
		EXPECT_EQ(rc_guid_parse(s, id), -EINVAL) << '"' << s << '"';
	}
}

TEST(Guid, WritesLowerCase)
{
	char hex[RC_GUID_HEX_LEN], text[RC_GUID_TEXT_LEN];
	rc_guid_hex(kId, hex);
	rc_guid_text(kId, text);
	EXPECT_STREQ(hex, "0123456789abcdeffedcba9876543210");
	EXPECT_STREQ(text, "01234567-89ab-cdef-fedc-ba9876543210");
}

TEST(Guid, RandomIdsAreVersion4AndDistinct)
{
	std::set<std::string> seen;
	for (int i = 0; i < 1000; i++) {
		uint8_t id[16];
		char text[RC_GUID_TEXT_LEN];
		ASSERT_EQ(rc_guid_random(id), 0);
		EXPECT_EQ(id[6] >> 4, 4);
		EXPECT_EQ(id[8] >> 6, 2);
		rc_guid_text(id, text);
		uint8_t back[16];
		ASSERT_EQ(rc_guid_parse(text, back), 0);
		EXPECT_EQ(memcmp(back, id, 16), 0);
		seen.insert(text);
	}
	EXPECT_EQ(seen.size(), 1000u);
}

// Run under the getrandom_fail shim: the child draws an id and exits with
// the negated return, or 0 (a made-up id) when the draw "succeeded".
TEST(Guid, FailingRandomnessIsAnErrorNotAnId)
{
	if (getenv("RC_GUID_CHILD")) {
		uint8_t id[16];
		_exit(-rc_guid_random(id));
	}
	std::string shim = rt::bin_dir() + "/../tests/shim/getrandom_fail.so";
	ASSERT_EQ(access(shim.c_str(), R_OK), 0) << shim << " is not built (make all)";
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	ASSERT_GT(n, 0);
	self[n] = '\0';
	for (int err : { ENOSYS, EIO, EAGAIN }) {
		std::string out;
		int rc = rt::sh("RC_GUID_CHILD=1 GETRANDOM_ERRNO=" + std::to_string(err) +
					" LD_PRELOAD='" + shim +
					"' ASAN_OPTIONS=verify_asan_link_order=0 '" + self +
					"' --gtest_filter=Guid.FailingRandomnessIsAnErrorNotAnId",
				&out);
		EXPECT_EQ(rc, err) << out;
	}
}

} // namespace
