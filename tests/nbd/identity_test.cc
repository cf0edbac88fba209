// SPDX-License-Identifier: MIT
// A checkpoint of a copy from an NBD export is bound to the export's content:
// the same URI served again from the same image resumes; the same URI now
// serving another image of the same size starts over (the fingerprint of a
// few fixed and random blocks differs) and ends identical to the new image.
#include <gtest/gtest.h>
#include <resync/resync.h>
#include "servers.h"

namespace {

constexpr uint64_t MiB = 1 << 20;

struct CancelAfter {
	resync *r;
	uint64_t bytes;
};

void cancel_after(const resync_stats *st, void *arg)
{
	auto *c = static_cast<CancelAfter *>(arg);
	if (st->bytes_done >= c->bytes)
		resync_cancel(c->r);
}

void interrupted(const std::string &uri, const std::string &tgt, const std::string &ck)
{
	resync *r = resync_new();
	CancelAfter c{ r, 8 * MiB };
	resync_set_source(r, uri.c_str());
	resync_set_target(r, tgt.c_str());
	resync_set_rate_limit(r, 32 * MiB);
	resync_set_checkpoint(r, ck.c_str(), 0, MiB);
	resync_set_progress(r, cancel_after, &c, 5);
	ASSERT_EQ(resync_run(r), -ECANCELED) << resync_error(r);
	resync_free(r);
}

struct Rerun {
	RunResult res;
	std::string why;
};

Rerun rerun(const std::string &uri, const std::string &tgt, const std::string &ck)
{
	Rerun out{};
	resync *r = resync_new();
	resync_set_source(r, uri.c_str());
	resync_set_target(r, tgt.c_str());
	resync_set_checkpoint(r, ck.c_str(), 1000, 0);
	out.res.ret = resync_run(r);
	resync_get_stats(r, &out.res.st);
	out.res.error = resync_error(r);
	out.why = resync_resume_refused(r);
	resync_free(r);
	return out;
}

TEST(NbdIdentity, AnotherImageBehindTheSameUriIsNotResumed)
{
	rt::TempDir tmp;
	rt::Bytes a = rt::random_bytes(32 * MiB, 61), b = rt::random_bytes(32 * MiB, 62);
	std::string ia = tmp.path("a.img"), ib = tmp.path("b.img"), tgt = tmp.path("tgt"),
		    ck = tmp.path("ck");
	rt::write_file(ia, a);
	rt::write_file(ib, b);
	rt::write_file(tgt, rt::random_bytes(32 * MiB, 63));

	// The same image served again: resumed.
	auto srv = nbdt::nbdkit(tmp, "src", { "-r", "file", ia });
	ASSERT_TRUE(srv->ok()) << srv->log();
	std::string uri = srv->uri();
	interrupted(uri, tgt, ck);
	srv.reset();
	srv = nbdt::nbdkit(tmp, "src", { "-r", "file", ia });
	ASSERT_TRUE(srv->ok()) << srv->log();
	ASSERT_EQ(srv->uri(), uri);
	Rerun same = rerun(uri, tgt, ck);
	ASSERT_EQ(same.res.ret, 0) << same.res.error;
	EXPECT_EQ(same.res.st.resumed, 1u);
	EXPECT_EQ(same.why, "");
	EXPECT_TRUE(rt::read_file(tgt) == a);

	// Another image of the same size behind the same URI: started over.
	rt::write_file(tgt, rt::random_bytes(32 * MiB, 64));
	interrupted(uri, tgt, ck);
	srv.reset();
	srv = nbdt::nbdkit(tmp, "src", { "-r", "file", ib });
	ASSERT_TRUE(srv->ok()) << srv->log();
	Rerun other = rerun(uri, tgt, ck);
	ASSERT_EQ(other.res.ret, 0) << other.res.error;
	EXPECT_EQ(other.res.st.resumed, 0u);
	EXPECT_EQ(other.res.st.resume_refused, 1u);
	EXPECT_EQ(other.res.st.bytes_planned, 32 * MiB);
	EXPECT_NE(other.why.find("the source no longer reads the same"), std::string::npos)
		<< other.why;
	EXPECT_TRUE(rt::read_file(tgt) == b);
}

} // namespace
