// SPDX-License-Identifier: MIT
// resyncd's JSON edge (daemon/json_reply.c): the ReturnValue to HTTP status
// table is the one doc/api.md prints, and request bodies that are not one
// JSON object (torn, trailing text, NUL bytes, arrays, nesting past the
// parser's depth) give 32776 with where, never a crash.
#include <gtest/gtest.h>
#include <fstream>
#include <cstdio>
#include <string>

extern "C" {
#include "json_reply.h"
}

namespace {

uint32_t parse(const std::string &body, json_object **o, ctl_err *e)
{
	return rd_body_object(body.c_str(), body.size(), o, e);
}

} // namespace

// The rows "| RV | meaning | STATUS ..." of the table (std::regex is
// avoided: GCC 12 warns inside it under -fsanitize).
TEST(StatusTable, IsTheOneDocApiMdPrints)
{
	std::ifstream doc("doc/api.md");
	ASSERT_TRUE(doc.good()) << "run from the repository root";
	std::string line;
	int rows = 0;
	while (std::getline(doc, line)) {
		unsigned rv, status;
		size_t bar = line.find('|', 2);
		bar = bar == std::string::npos ? bar : line.find('|', bar + 1);
		if (sscanf(line.c_str(), "| %u |", &rv) != 1 || bar == std::string::npos ||
		    sscanf(line.c_str() + bar, "| %u", &status) != 1 ||
		    (rv != 0 && rv != 4096 && (rv < 32768 || rv > 32779)) ||
		    line.find("405") != std::string::npos)
			continue;
		EXPECT_EQ(rd_status_for_rv(rv), status) << line;
		rows++;
	}
	EXPECT_EQ(rows, 14); // 0, 4096 and 32768..32779
}

TEST(Body, EmptyIsAnEmptyObject)
{
	ctl_err e = { "" };
	json_object *o = nullptr;
	for (const char *b : { "", " \r\n\t" }) {
		ASSERT_EQ(parse(b, &o, &e), 0u);
		EXPECT_TRUE(json_object_is_type(o, json_type_object));
		EXPECT_EQ(json_object_object_length(o), 0);
		json_object_put(o);
	}
}

TEST(Body, NotOneObjectIs32776WithWhere)
{
	const struct {
		std::string body, says;
	} cases[] = {
		{ "{ torn", "not JSON" },
		{ "{\"a\":1} {\"b\":2}", "text after the JSON value at offset" },
		{ std::string("{\"a\":\"x\0y\"}", 11), "a NUL byte at offset 7" },
		{ "[1,2]", "not an object" },
		{ "\"text\"", "not an object" },
		{ std::string(100000, '['), "not JSON" },
		{ "{\"a\":", "unexpected end" },
	};
	for (const auto &c : cases) {
		ctl_err e = { "" };
		json_object *o = nullptr;
		EXPECT_EQ(parse(c.body, &o, &e), 32776u) << c.body.substr(0, 40);
		EXPECT_EQ(o, nullptr);
		EXPECT_NE(std::string(e.msg).find(c.says), std::string::npos) << e.msg;
	}
}

TEST(Body, UnknownKeyIs32773NamingIt)
{
	ctl_err e = { "" };
	json_object *o = nullptr;
	static const char *const keys[] = { "Name", "Disks", nullptr };
	ASSERT_EQ(parse("{\"Name\":\"a\",\"Disk\":[]}", &o, &e), 0u);
	EXPECT_EQ(rd_known_keys(o, keys, &e), 32773u);
	EXPECT_STREQ(e.msg, "unknown key \"Disk\"");
	json_object_put(o);
}

TEST(Body, DisksAreCheckedInOrderNamingTheDisk)
{
	static const char *const keys[] = { "Name", "Target", "TargetGenerationId", nullptr };
	const struct {
		const char *disks;
		uint32_t rv;
		const char *says;
	} cases[] = {
		{ "[{\"Name\":\"d0\",\"Target\":\"/t\"},{\"Name\":\"d1\",\"Target\":\"/u\","
		  "\"TargetGenerationId\":\"\"}]",
		  0, "" },
		{ "{}", 32776, "Disks: not an array" },
		{ "[{\"Name\":\"d0\",\"Target\":\"/t\"},7]", 32776, "Disks[1]: not an object" },
		{ "[{\"Name\":\"d0\",\"Image\":\"/t\"}]", 32773, "unknown key \"Image\"" },
		{ "[{\"Name\":\"d0\",\"Target\":\"/t\"},{\"Name\":\"d1\"}]", 32773,
		  "Disks[1].Target: missing" },
	};
	for (const auto &c : cases) {
		ctl_err e = { "" };
		json_object *o = nullptr;
		std::string body = std::string("{\"Disks\":") + c.disks + "}";
		ASSERT_EQ(parse(body, &o, &e), 0u) << body;
		EXPECT_EQ(rd_disks_check(json_object_object_get(o, "Disks"), keys, 2, &e), c.rv)
			<< c.disks;
		EXPECT_STREQ(e.msg, c.says) << c.disks;
		json_object_put(o);
	}
	ctl_err e = { "" };
	EXPECT_EQ(rd_disks_check(nullptr, keys, 2, &e), 32773u);
	EXPECT_STREQ(e.msg, "Disks: missing");
}

TEST(Reply, CarriesReturnValueAndTheReasonOnlyOnFailure)
{
	rd_reply r = {};
	ctl_err e = { "why" };
	rd_reply_rv(&r, 0, nullptr, &e);
	EXPECT_EQ(r.status, 200u);
	EXPECT_STREQ(json_object_to_json_string_ext(r.body, JSON_C_TO_STRING_PLAIN),
		     "{\"ReturnValue\":0,\"SchemaVersion\":2}");
	rd_reply_rv(&r, 32774, nullptr, &e);
	EXPECT_EQ(r.status, 409u);
	EXPECT_STREQ(json_object_to_json_string_ext(r.body, JSON_C_TO_STRING_PLAIN),
		     "{\"ReturnValue\":32774,\"SchemaVersion\":2,\"ErrorDescription\":\"why\"}");
	json_object_put(r.body);
}
