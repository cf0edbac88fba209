// SPDX-License-Identifier: MIT
// A check (RESYNC_F_CHECK_ONLY: open and plan, move nothing) opens one
// connection per NBD endpoint even where the server allows more
// (multi-conn): the extra ones only speed up a copy.  Connections are
// counted by nbdkit's log filter, which logs each one that arrives.
#include <gtest/gtest.h>
#include <fstream>
#include "servers.h"

namespace {

class NbdCheckOnly : public nbdt::LoggedPair {
protected:
	void SetUp() override
	{
		rt::write_file(s_, rt::random_bytes(4 << 20, 7));
		rt::write_file(d_, rt::Bytes(4 << 20, 0));
		ASSERT_NO_FATAL_FAILURE(serve());
	}
	// Connections the server saw; stopped first, so its log is complete.
	static int connections(nbdt::Server &srv, const std::string &log)
	{
		srv.stop();
		std::ifstream in(log);
		int n = 0;
		for (std::string line; std::getline(in, line);)
			n += line.find(" Connect ") != std::string::npos;
		return n;
	}
};

} // namespace

TEST_F(NbdCheckOnly, OpensOneConnectionPerEndpoint)
{
	auto r = run_engine(src_->uri(), dst_->uri(), RESYNC_FULL, nullptr, RESYNC_F_CHECK_ONLY);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_EQ(r.st.bytes_read + r.st.bytes_written + r.st.bytes_zeroed, 0u);
	EXPECT_EQ(connections(*src_, slog_), 1);
	EXPECT_EQ(connections(*dst_, dlog_), 1);
	EXPECT_EQ(rt::read_file(d_), rt::Bytes(4 << 20, 0));
}

// The same servers give a copy more than one: the check's single
// connection is its choice, not the servers' limit.
TEST_F(NbdCheckOnly, ACopyOfTheSameServersUsesMore)
{
	auto r = run_engine(src_->uri(), dst_->uri(), RESYNC_FULL);
	ASSERT_EQ(r.ret, 0) << r.error;
	EXPECT_GT(connections(*dst_, dlog_), 1);
	EXPECT_EQ(rt::read_file(d_), rt::read_file(s_));
}
