// SPDX-License-Identifier: MIT
// Settings JSON: defaults, every key, and the exact return value of each rejection.
#include <gtest/gtest.h>
#include <string>
extern "C" {
#include "resync/return_codes.h"
#include "settings.h"
}

static uint32_t parse(const char *text, std::string *msg = nullptr)
{
	struct ctl_settings s;
	struct ctl_err e = { "" };
	uint32_t rv = ctl_settings_parse(text, &s, &e);
	if (msg)
		*msg = e.msg;
	ctl_settings_free(&s);
	return rv;
}

TEST(Settings, DefaultsWhenEmpty)
{
	for (const char *t : { (const char *)nullptr, "", "  \n", "{}" }) {
		struct ctl_settings s;
		ASSERT_EQ(ctl_settings_parse(t, &s, nullptr), 0u);
		EXPECT_EQ(s.change_source, CTL_CS_AUTO);
		EXPECT_FALSE(s.verify);
		EXPECT_EQ(s.rate_limit, 0u);
		EXPECT_EQ(s.queue_depth, 0u) << "the engine chooses";
		EXPECT_EQ(s.request_size, 0u) << "the engine chooses";
		EXPECT_EQ(s.disks, nullptr);
		EXPECT_EQ(s.nbd_connect_timeout_ms, 0u);
		ctl_settings_free(&s);
	}
}

TEST(Settings, EveryKey)
{
	struct ctl_settings s;
	ASSERT_EQ(ctl_settings_parse(
			  R"({"disks":["a","b"],"change_source":"compare","verify":true,)"
			  R"("rate_limit":1048576,"queue_depth":8,"request_size":65536,)"
			  R"("tls":{"psk_file":"/k","username":"u"},"nbd_connect_timeout_ms":2500})",
			  &s, nullptr),
		  0u);
	ASSERT_EQ(s.ndisks, 2u);
	EXPECT_STREQ(s.disks[1], "b");
	EXPECT_EQ(s.change_source, CTL_CS_COMPARE);
	EXPECT_TRUE(s.verify);
	EXPECT_EQ(s.rate_limit, 1048576u);
	EXPECT_EQ(s.queue_depth, 8u);
	EXPECT_EQ(s.request_size, 65536u);
	EXPECT_STREQ(s.tls_psk_file, "/k");
	EXPECT_STREQ(s.tls_username, "u");
	EXPECT_EQ(s.nbd_connect_timeout_ms, 2500u);
	json_object *o = ctl_settings_to_json(&s);
	struct ctl_settings again;
	ASSERT_EQ(ctl_settings_parse(json_object_to_json_string(o), &again, nullptr), 0u);
	EXPECT_EQ(again.rate_limit, s.rate_limit);
	EXPECT_EQ(again.nbd_connect_timeout_ms, 2500u);
	EXPECT_STREQ(again.disks[0], "a");
	json_object_put(o);
	ctl_settings_free(&again);
	ctl_settings_free(&s);
}

// What the ctl stores in the job record (ctl_settings_to_json) and the
// worker parses back: an absent queue_depth or request_size (0, the engine
// chooses per disk) stays absent, since a stored 0 would be out of range;
// a value given comes back as given.
static void round_trip(const char *text, unsigned depth, uint32_t request, const char *stored_depth,
		       const char *stored_request)
{
	struct ctl_settings s, again;
	ASSERT_EQ(ctl_settings_parse(text, &s, nullptr), 0u) << text;
	EXPECT_EQ(s.queue_depth, depth) << text;
	EXPECT_EQ(s.request_size, request) << text;
	json_object *o = ctl_settings_to_json(&s);
	json_object *v;
	EXPECT_EQ(json_object_object_get_ex(o, "queue_depth", &v), stored_depth != nullptr);
	if (stored_depth) {
		EXPECT_STREQ(json_object_to_json_string(v), stored_depth);
	}
	EXPECT_EQ(json_object_object_get_ex(o, "request_size", &v), stored_request != nullptr);
	if (stored_request) {
		EXPECT_STREQ(json_object_to_json_string(v), stored_request);
	}
	EXPECT_TRUE(json_object_object_get_ex(o, "memory_limit", nullptr));
	ASSERT_EQ(ctl_settings_parse(json_object_to_json_string(o), &again, nullptr), 0u)
		<< json_object_to_json_string(o);
	EXPECT_EQ(again.queue_depth, depth) << json_object_to_json_string(o);
	EXPECT_EQ(again.request_size, request) << json_object_to_json_string(o);
	json_object_put(o);
	ctl_settings_free(&again);
	ctl_settings_free(&s);
}

TEST(Settings, AbsentDepthAndSizeAreTheEnginesAndRoundTrip)
{
	round_trip("{}", 0, 0, nullptr, nullptr);
	round_trip(R"({"change_source":"full","rate_limit":1048576})", 0, 0, nullptr, nullptr);
	round_trip(R"({"queue_depth":8})", 8, 0, "8", nullptr);
	round_trip(R"({"request_size":65536})", 0, 65536, nullptr, "65536");
	round_trip(R"({"queue_depth":1024,"request_size":67108864})", 1024, 67108864, "1024",
		   "67108864");
	round_trip(R"({"queue_depth":1,"request_size":4096})", 1, 4096, "1", "4096");
}

TEST(Settings, NotJsonIsIncorrectDataType)
{
	EXPECT_EQ(parse("{"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse("verify=true"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse("[1]"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse("{} trailing"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse("<ReplicationSettingData/>"), RESYNC_RV_INCORRECT_DATA_TYPE);
}

TEST(Settings, WrongTypeNamesTheKey)
{
	std::string msg;
	EXPECT_EQ(parse(R"({"rate_limit":"10M"})", &msg), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_NE(msg.find("rate_limit"), std::string::npos) << msg;
	EXPECT_EQ(parse(R"({"queue_depth":1.5})"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse(R"({"verify":"yes"})", &msg), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_NE(msg.find("verify"), std::string::npos);
	EXPECT_EQ(parse(R"({"disks":"d0"})"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse(R"({"disks":[1]})"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse(R"({"change_source":2})"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse(R"({"tls":"x"})"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse(R"({"tls":{"username":1}})", &msg), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_NE(msg.find("tls.username"), std::string::npos);
}

TEST(Settings, UnknownKeyOrRangeIsInvalidParameter)
{
	std::string msg;
	EXPECT_EQ(parse(R"({"verfy":true})", &msg), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_NE(msg.find("\"verfy\""), std::string::npos) << msg;
	EXPECT_EQ(parse(R"({"tls":{"cert":"/x"}})", &msg), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_NE(msg.find("tls.cert"), std::string::npos) << msg;
	EXPECT_EQ(parse(R"({"queue_depth":0})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"queue_depth":1025})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"request_size":1000000})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"request_size":2048})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"rate_limit":-1})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"nbd_connect_timeout_ms":86400001})", &msg),
		  RESYNC_RV_INVALID_PARAMETER);
	EXPECT_NE(msg.find("\"nbd_connect_timeout_ms\" out of range"), std::string::npos) << msg;
	EXPECT_EQ(parse(R"({"nbd_connect_timeout_ms":"5s"})"), RESYNC_RV_INCORRECT_DATA_TYPE);
	EXPECT_EQ(parse(R"({"change_source":"magic"})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"disks":[]})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"disks":["a","a"]})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"tls":{"certificates":"/c","psk_file":"/k"}})"),
		  RESYNC_RV_INVALID_PARAMETER);
}

TEST(Settings, ChangeSourceNames)
{
	for (const char *n : { "auto", "bitmap", "nbd-dirty", "extents", "compare", "full" }) {
		enum ctl_change_source cs;
		ASSERT_EQ(ctl_change_source_parse(n, &cs), 0) << n;
		EXPECT_STREQ(ctl_change_source_name(cs), n);
	}
}

TEST(Settings, VerifySampleKeys)
{
	struct ctl_settings s;
	ASSERT_EQ(ctl_settings_parse("{}", &s, nullptr), 0u);
	EXPECT_EQ(s.verify_sample_per_gib, 16u);
	EXPECT_EQ(s.verify_sample_min, 256u);
	ctl_settings_free(&s);
	ASSERT_EQ(ctl_settings_parse(R"({"verify_sample_per_gib":0,"verify_sample_min":0})", &s,
				     nullptr),
		  0u);
	EXPECT_EQ(s.verify_sample_per_gib, 0u);
	EXPECT_EQ(s.verify_sample_min, 0u);
	ctl_settings_free(&s);
	std::string msg;
	EXPECT_EQ(parse(R"({"verify_sample_min":-1})", &msg), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_NE(msg.find("verify_sample_min"), std::string::npos) << msg;
	EXPECT_EQ(parse(R"({"verify_sample_per_gib":16777217})"), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(parse(R"({"verify_sample_per_gib":"16"})"), RESYNC_RV_INCORRECT_DATA_TYPE);
}

TEST(Settings, MemoryLimit)
{
	struct ctl_settings s;
	ASSERT_EQ(ctl_settings_parse("{}", &s, nullptr), 0u);
	EXPECT_EQ(s.memory_limit, 256ull << 20);
	ctl_settings_free(&s);
	ASSERT_EQ(ctl_settings_parse(R"({"memory_limit":1048576})", &s, nullptr), 0u);
	EXPECT_EQ(s.memory_limit, 1048576u);
	json_object *o = ctl_settings_to_json(&s);
	EXPECT_EQ(json_object_get_int64(json_object_object_get(o, "memory_limit")), 1048576);
	json_object_put(o);
	ctl_settings_free(&s);
	std::string msg;
	EXPECT_EQ(parse(R"({"memory_limit":1048575})", &msg), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_NE(msg.find("\"memory_limit\" out of range"), std::string::npos) << msg;
	EXPECT_EQ(parse(R"({"memory_limit":"256M"})"), RESYNC_RV_INCORRECT_DATA_TYPE);
}
