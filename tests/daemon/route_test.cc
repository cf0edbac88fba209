// SPDX-License-Identifier: MIT
// resyncd's routing (daemon/route.c) over a real state store in a temporary
// directory: unknown paths 404, other methods 405 with Allow, roles before
// anything runs (a refused call leaves the store as it was), and a path
// naming no VM or job 404 with the ReturnValue of its method.
#include <gtest/gtest.h>
#include <dirent.h>
#include <set>
#include <string>
#include "testutil.h"

extern "C" {
#include "route.h"
}

namespace {

class Route : public ::testing::Test {
protected:
	void SetUp() override
	{
		d.cfg.body_limit = 1 << 20;
		d.operator_gid = -1;
		ASSERT_EQ(ctl_store_open(&d.store, tmp.path("state").c_str()), 0);
	}
	void TearDown() override
	{
		ctl_store_close(&d.store);
	}

	struct Out {
		unsigned status;
		uint32_t rv;
		std::string body, allow;
		bool stream;
	};

	Out call(const char *method, const char *path, const std::string &body = "",
		 rd_role role = RD_ROLE_OPERATOR)
	{
		rd_caller c = {};
		c.local = true;
		c.uid = role == RD_ROLE_OPERATOR ? 0 : 65534;
		c.role = role;
		rd_request q = {};
		q.method = method;
		q.path = path;
		q.body = body.c_str();
		q.body_len = body.size();
		q.caller = &c;
		rd_reply r = {};
		rd_route(&d, &q, &r);
		Out o{ r.status, r.rv,
		       r.body ? json_object_to_json_string_ext(r.body,
							       JSON_C_TO_STRING_NOSLASHESCAPE) :
				(r.text ? r.text : ""),
		       r.allow, r.stream };
		json_object_put(r.body);
		free(r.text);
		return o;
	}

	std::set<std::string> vms()
	{
		std::set<std::string> out;
		DIR *dir = opendir(tmp.path("state/vms").c_str());
		for (dirent *de; dir && (de = readdir(dir));)
			if (de->d_name[0] != '.')
				out.insert(de->d_name);
		if (dir)
			closedir(dir);
		return out;
	}

	rt::TempDir tmp;
	rd_daemon d = {};
};

const char add_app[] = R"({"Name":"app","Disks":[{"Name":"d0","Target":"/dev/null"}]})";

} // namespace

// GET /v1/events is handed to http.c's stream for readers, refused like any
// GET to callers without a role, and has no other method.
TEST_F(Route, EventsStreamForReaders)
{
	EXPECT_TRUE(call("GET", "/v1/events", "", RD_ROLE_READER).stream);
	Out o = call("GET", "/v1/events", "", RD_ROLE_NONE);
	EXPECT_EQ(o.status, 403u);
	EXPECT_FALSE(o.stream);
	o = call("POST", "/v1/events");
	EXPECT_EQ(o.status, 405u);
	EXPECT_EQ(o.allow, "GET");
	EXPECT_FALSE(o.stream);
}

TEST_F(Route, UnknownPathsAre404)
{
	for (const char *p : { "/", "/v1", "/v1/", "/v1/vms/", "/v2/vms", "/v1/vms/a/b/c/d/e",
			       "/v1/jobs/x/y", "/metrics/x", "/v1/vms//failback" }) {
		Out o = call("GET", p);
		EXPECT_EQ(o.status, 404u) << p;
		EXPECT_EQ(o.rv, 32773u) << p;
	}
}

TEST_F(Route, OtherMethodsAre405WithAllow)
{
	Out o = call("PUT", "/v1/vms");
	EXPECT_EQ(o.status, 405u);
	EXPECT_EQ(o.rv, 32770u);
	EXPECT_EQ(o.allow, "GET, POST");
	EXPECT_EQ(call("POST", "/metrics").allow, "GET");
	EXPECT_EQ(call("GET", "/v1/jobs/x/RequestStateChange").allow, "POST");
	EXPECT_EQ(call("PATCH", "/v1/vms/app").allow, "GET, DELETE");
}

TEST_F(Route, ReadersMayOnlyReadAndRefusedMayNothing)
{
	std::set<std::string> before = vms();
	Out o = call("POST", "/v1/vms", add_app, RD_ROLE_READER);
	EXPECT_EQ(o.status, 403u);
	EXPECT_EQ(o.rv, 32769u);
	EXPECT_NE(o.body.find("uid 65534 may not call POST /v1/vms"), std::string::npos) << o.body;
	EXPECT_EQ(vms(), before);
	EXPECT_EQ(call("GET", "/v1/vms", "", RD_ROLE_READER).status, 200u);
	EXPECT_EQ(call("GET", "/v1/vms", "", RD_ROLE_NONE).status, 403u);
	EXPECT_EQ(call("GET", "/metrics", "", RD_ROLE_NONE).rv, 32769u);

	ASSERT_EQ(call("POST", "/v1/vms", add_app).status, 201u);
	EXPECT_EQ(vms(), (std::set<std::string>{ "app.json", "app.lock" }));
	EXPECT_EQ(call("DELETE", "/v1/vms/app", "", RD_ROLE_READER).status, 403u);
	EXPECT_EQ(call("GET", "/v1/vms/app", "", RD_ROLE_READER).status, 200u);
}

TEST_F(Route, NamesOfNothingAre404)
{
	ASSERT_EQ(call("POST", "/v1/vms", add_app).status, 201u);
	for (const char *p : { "/v1/vms/nope", "/v1/vms/nope/recovery-points", "/v1/vms/..",
			       "/v1/vms/.hidden", "/v1/vms/app/recovery-points/nope" }) {
		Out o = call("GET", p);
		EXPECT_EQ(o.status, 404u) << p;
		EXPECT_EQ(o.rv, 32773u) << p;
	}
	std::string longname = "/v1/vms/" + std::string(65, 'a');
	EXPECT_EQ(call("GET", longname.c_str()).status, 404u);
	EXPECT_EQ(call("POST", "/v1/vms/nope/failback", "{}").status, 404u);
	EXPECT_EQ(call("DELETE", "/v1/vms/app/recovery-points/nope").status, 404u);
	Out o = call("POST", "/v1/jobs/00000000-0000-0000-0000-000000000000/RequestStateChange",
		     R"({"RequestedState":4})");
	EXPECT_EQ(o.status, 404u);
	EXPECT_EQ(o.rv, 5u); // RequestStateChange's own "invalid parameter"
	EXPECT_EQ(call("DELETE", "/v1/jobs/00000000-0000-0000-0000-000000000000").rv, 32773u);
}

TEST_F(Route, MetricsAreText)
{
	Out o = call("GET", "/metrics");
	EXPECT_EQ(o.status, 200u);
	EXPECT_NE(o.body.find(
			  "# TYPE resync_job_bytes_written gauge\nresync_job_bytes_written 0\n"),
		  std::string::npos)
		<< o.body;
	EXPECT_NE(o.body.find("resync_jobs{state=\"Running\",job_state=\"4\"} 0\n"),
		  std::string::npos);
}

// One open store serves every request: the second listing must see what the
// first did (a dup()ed directory fd shared its read offset and listed none).
TEST_F(Route, EveryListingThroughOneStoreSeesEveryVm)
{
	ASSERT_EQ(call("POST", "/v1/vms", add_app).status, 201u);
	for (int i = 0; i < 3; i++) {
		Out o = call("GET", "/v1/vms");
		EXPECT_NE(o.body.find("\"Name\":\"app\""), std::string::npos) << i << o.body;
	}
}
