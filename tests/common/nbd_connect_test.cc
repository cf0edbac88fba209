// SPDX-License-Identifier: MIT
// Connecting an NBD handle (common/nbd_connect.h) against real servers: a
// connect that succeeds, a missing socket, a server that accepts and then
// says nothing (bounded by the timeout, ended by a cancel), a TLS server
// refusing the client's credentials (EACCES), and the one default timeout.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <string>
#include "clock.h"
#include "nbd_connect.h"
#include "nbd_servers.h"

namespace {

struct Connect : ::testing::Test {
	rt::TempDir tmp;
	char msg[512] = "";
	struct nbd_handle *h = nbd_create();

	void TearDown() override
	{
		rc_nbd_close(h, nullptr);
	}

	int connect(const std::string &uri, unsigned timeout_ms, const rc_nbd_tls *tls = nullptr,
		    const std::atomic_int *cancel = nullptr)
	{
		rc_nbd_wait w = rc_nbd_connect_wait(timeout_ms, cancel);
		return rc_nbd_connect(h, uri.c_str(), tls, &w, msg, sizeof msg);
	}

	// A Unix socket that is listened on but never accepted: the kernel
	// completes the connect and the server never says a word.
	std::string silent_socket(int *fd)
	{
		std::string path = tmp.path("silent.sock");
		*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = {};
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
		EXPECT_EQ(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
		EXPECT_EQ(listen(*fd, 4), 0);
		return "nbd+unix:///?socket=" + path;
	}
};

TEST_F(Connect, ReachesAServerAndCloses)
{
	auto srv = nbdt::nbdkit(tmp, "mem", { "memory", "1M" });
	ASSERT_TRUE(srv->ok()) << srv->log();
	ASSERT_EQ(connect(srv->uri(), 0), 0) << msg;
	EXPECT_EQ(nbd_aio_is_ready(h), 1);
	EXPECT_EQ(nbd_get_size(h), 1 << 20);
	rc_nbd_wait w = rc_nbd_connect_wait(0, nullptr);
	rc_nbd_close(h, &w);
	h = nullptr;
}

TEST_F(Connect, MissingSocketIsENOENT)
{
	EXPECT_EQ(connect("nbd+unix:///?socket=" + tmp.path("none.sock"), 0), -ENOENT);
	EXPECT_NE(std::string(msg).find("connect"), std::string::npos) << msg;
}

TEST_F(Connect, SilentServerTimesOut)
{
	int fd;
	std::string uri = silent_socket(&fd);
	uint64_t start = rc_now_ns();
	EXPECT_EQ(connect(uri, 300), -ETIMEDOUT);
	// Never shorter than asked (whole milliseconds once ended it early).
	EXPECT_GE(rc_now_ns() - start, 300u * 1000000);
	EXPECT_STREQ(msg, "connect: no answer from the server within 300 ms");
	close(fd);
}

TEST_F(Connect, CancelEndsTheWait)
{
	int fd;
	std::string uri = silent_socket(&fd);
	std::atomic_int cancel(1);
	EXPECT_EQ(connect(uri, 600000, nullptr, &cancel), -ECANCELED);
	EXPECT_STREQ(msg, "connect: cancelled");
	close(fd);
}

TEST_F(Connect, TlsServerRefusingTheKeyIsEACCES)
{
	std::string keys = tmp.path("keys.psk"), wrong = tmp.path("wrong.psk");
	ASSERT_EQ(rt::sh("psktool -u alice -p " + keys + " >/dev/null && psktool -u alice -p " +
			 wrong + " >/dev/null"),
		  0);
	auto srv =
		nbdt::nbdkit(tmp, "tls", { "--tls=require", "--tls-psk=" + keys, "memory", "1M" });
	ASSERT_TRUE(srv->ok()) << srv->log();
	rc_nbd_tls bad = { nullptr, wrong.c_str(), "alice" };
	EXPECT_EQ(connect(srv->uri("", true), 0, &bad), -EACCES) << msg;
	nbd_close(h);
	h = nbd_create();
	// Without TLS at all the server refuses to go on: access denied too.
	EXPECT_EQ(connect(srv->uri("", false), 0), -EACCES) << msg;
	nbd_close(h);
	h = nbd_create();
	rc_nbd_tls good = { nullptr, keys.c_str(), "alice" };
	EXPECT_EQ(connect(srv->uri("", true), 0, &good), 0) << msg;
}

TEST(ConnectWait, OneDefaultTheEnvironmentAndAnExplicitValue)
{
	unsetenv("RESYNC_NBD_CONNECT_TIMEOUT_MS");
	rc_nbd_wait w = rc_nbd_connect_wait(0, nullptr);
	EXPECT_EQ(w.timeout_ms, RC_NBD_CONNECT_TIMEOUT_MS);
	EXPECT_EQ(RC_NBD_CONNECT_TIMEOUT_MS, 30000u);
	EXPECT_TRUE(w.from_start);
	setenv("RESYNC_NBD_CONNECT_TIMEOUT_MS", "1234", 1);
	EXPECT_EQ(rc_nbd_connect_wait(0, nullptr).timeout_ms, 1234u);
	EXPECT_EQ(rc_nbd_connect_wait(77, nullptr).timeout_ms, 77u);
	setenv("RESYNC_NBD_CONNECT_TIMEOUT_MS", "12s", 1);
	EXPECT_EQ(rc_nbd_connect_wait(0, nullptr).timeout_ms, RC_NBD_CONNECT_TIMEOUT_MS);
	unsetenv("RESYNC_NBD_CONNECT_TIMEOUT_MS");
}

} // namespace
