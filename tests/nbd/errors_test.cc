// SPDX-License-Identifier: MIT
// Bad input and hostile conditions: malformed URIs, nothing listening, a
// server that never answers, block size constraints, a server that dies or
// stalls mid-copy; and the loop sleeps in the ring while the server is slow
// instead of spinning.
#include <gtest/gtest.h>
#include <future>
#include <thread>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstring>
#include <resync/resync.h>
#include "servers.h"

namespace {

constexpr uint64_t MiB = 1 << 20;

// Runs a copy on another thread so a hang fails the test instead of the suite.
nbdt::Result copy_within(std::chrono::seconds limit, const std::string &src, const std::string &dst,
			 std::function<void(resync *)> more)
{
	auto fut = std::async(std::launch::async,
			      [=] { return nbdt::copy(src, dst, RESYNC_FULL, nullptr, more); });
	if (fut.wait_for(limit) != std::future_status::ready) {
		ADD_FAILURE() << "copy did not finish within " << limit.count() << " s";
		std::_Exit(1);
	}
	return fut.get();
}

class MalformedUri : public ::testing::TestWithParam<const char *> {};

TEST_P(MalformedUri, IsInvalidAndWritesNothing)
{
	rt::TempDir tmp;
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	auto res = nbdt::copy(GetParam(), raw);
	EXPECT_EQ(res.ret, -EINVAL) << res.error;
	EXPECT_EQ(res.error.rfind(std::string("source ") + GetParam() + ": ", 0), 0u) << res.error;
	EXPECT_EQ(rt::read_file(raw), rt::Bytes(1 * MiB, 0x55));
}

INSTANTIATE_TEST_SUITE_P(Nbd, MalformedUri,
			 ::testing::Values("nbd+unix:///", "nbds+unix:///export", "nbd://host:abc/",
					   "nbd://[::1/"));

TEST(Unreachable, MissingSocketSaysSo)
{
	rt::TempDir tmp;
	std::string raw = tmp.path("raw.img"), sock = tmp.path("none.sock");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	std::string uri = "nbd+unix:///?socket=" + sock;
	auto res = nbdt::copy(uri, raw);
	EXPECT_EQ(res.ret, -ENOENT);
	EXPECT_EQ(res.error, "source " + uri + ": connect: No such file or directory");
}

TEST(Unreachable, NothingListeningOnTcpIsRefused)
{
	rt::TempDir tmp;
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	// Port 1 (tcpmux) is not served on a test machine.
	auto res = nbdt::copy(raw, "nbd://127.0.0.1:1/");
	EXPECT_EQ(res.ret, -ECONNREFUSED);
	EXPECT_NE(res.error.find("target nbd://127.0.0.1:1/: connect: "), std::string::npos)
		<< res.error;
}

TEST(Unreachable, ExportNotFound)
{
	rt::TempDir tmp;
	auto srv = nbdt::nbdkit(tmp, "srv",
				{ "--filter=exportname", "memory", "1M", "exportname=foo",
				  "exportname-strict=true" });
	ASSERT_TRUE(srv->ok()) << srv->log();
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	auto res = nbdt::copy(raw, srv->uri("bar"));
	EXPECT_EQ(res.ret, -ENOENT);
	EXPECT_EQ(
		res.error,
		"target " + srv->uri("bar") +
			": handshake: server has no export named 'bar': No such file or directory");
	res = nbdt::copy(raw, srv->uri("foo"));
	EXPECT_EQ(res.ret, 0) << res.error;
}

// A server that accepts and then says nothing: the handshake gives up.
TEST(Unreachable, SilentServerTimesOut)
{
	rt::TempDir tmp;
	std::string sock = tmp.path("silent.sock"), raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	rt::SilentServer server(sock);
	setenv("RESYNC_NBD_CONNECT_TIMEOUT_MS", "1000", 1);
	auto start = std::chrono::steady_clock::now();
	auto res =
		copy_within(std::chrono::seconds(20), "nbd+unix:///?socket=" + sock, raw, nullptr);
	double secs =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	unsetenv("RESYNC_NBD_CONNECT_TIMEOUT_MS");
	EXPECT_EQ(res.ret, -ETIMEDOUT);
	EXPECT_EQ(res.error, "source nbd+unix:///?socket=" + sock +
				     ": connect: no answer from the server within 1000 ms");
	EXPECT_GE(secs, 1.0);
	EXPECT_LT(secs, 10.0);
}

// resync_set_nbd_connect_timeout() bounds the same wait and beats the
// environment.
TEST(Unreachable, ConnectTimeoutSetThroughTheApi)
{
	rt::TempDir tmp;
	std::string sock = tmp.path("silent.sock"), raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	rt::SilentServer server(sock);
	setenv("RESYNC_NBD_CONNECT_TIMEOUT_MS", "600000", 1);
	auto res =
		copy_within(std::chrono::seconds(60), "nbd+unix:///?socket=" + sock, raw,
			    [](resync *r) {
				    ASSERT_EQ(resync_set_nbd_connect_timeout(r,
									     24u * 3600 * 1000 + 1),
					      -EINVAL);
				    ASSERT_EQ(resync_set_nbd_connect_timeout(r, 700), 0);
			    });
	unsetenv("RESYNC_NBD_CONNECT_TIMEOUT_MS");
	EXPECT_EQ(res.ret, -ETIMEDOUT);
	EXPECT_EQ(res.error, "source nbd+unix:///?socket=" + sock +
				     ": connect: no answer from the server within 700 ms");
}

class BlockSize : public ::testing::Test {
protected:
	void SetUp() override
	{
		data_ = rt::random_bytes(4 * MiB, 11);
		src_ = tmp_.path("src.img");
		rt::write_file(src_, data_);
		dst_ = tmp_.path("dst.img");
		rt::write_file(dst_, rt::Bytes(4 * MiB, 0x44));
	}
	std::unique_ptr<nbdt::Server> target(const std::string &min, const std::string &max)
	{
		auto s = nbdt::nbdkit(tmp_, "dst",
				      { "--filter=blocksize-policy", "file", dst_,
					"blocksize-minimum=" + min, "blocksize-preferred=" + min,
					"blocksize-maximum=" + max,
					"blocksize-error-policy=error" });
		EXPECT_TRUE(s->ok()) << s->log();
		return s;
	}
	rt::TempDir tmp_;
	rt::Bytes data_;
	std::string src_, dst_;
};

// A 64 KiB minimum: the plan's blocks grow to it and every request is aligned
// (the filter would refuse anything else).
TEST_F(BlockSize, MinimumIsHonoured)
{
	auto dst = target("65536", "4M");
	auto res = nbdt::copy(src_, dst->uri(), RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_block_size(r, 4096); });
	ASSERT_EQ(res.ret, 0) << res.error;
	dst->stop();
	EXPECT_EQ(rt::read_file(dst_), data_);
}

// A maximum below the block size cannot be met: refused before anything is sent.
TEST_F(BlockSize, RequestAboveMaximumIsInvalid)
{
	auto dst = target("512", "256K");
	auto res = nbdt::copy(src_, dst->uri(), RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_block_size(r, 1 << 20); });
	EXPECT_EQ(res.ret, -EINVAL);
	EXPECT_NE(res.error.find("takes at most 262144 bytes per request, less than the block "
				 "size 1048576"),
		  std::string::npos)
		<< res.error;
	EXPECT_EQ(res.st.bytes_read + res.st.bytes_written + res.st.bytes_zeroed, 0u);
	dst->stop();
	EXPECT_EQ(rt::read_file(dst_), rt::Bytes(4 * MiB, 0x44));
}

TEST(ServerDeath, CopyFailsInsteadOfHanging)
{
	rt::TempDir tmp;
	auto src = nbdt::nbdkit(tmp, "src",
				{ "--filter=delay", "pattern", "64M", "delay-read=100ms" });
	ASSERT_TRUE(src->ok()) << src->log();
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(64 * MiB, 0));
	std::thread killer([&] {
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		src->crash();
	});
	auto res = copy_within(std::chrono::seconds(30), src->uri(), raw,
			       [](resync *r) { resync_set_queue_depth(r, 4); });
	killer.join();
	EXPECT_LT(res.ret, 0);
	EXPECT_EQ(res.error.rfind("source " + src->uri() + ": ", 0), 0u) << res.error;
	EXPECT_NE(res.error_offset, UINT64_MAX);
}

// A server that stops answering mid-copy: the connection is cut after the
// I/O timeout and the copy fails with ETIMEDOUT instead of waiting forever.
TEST(ServerStall, CopyTimesOut)
{
	rt::TempDir tmp;
	auto src = nbdt::nbdkit(tmp, "src", { "--filter=delay", "pattern", "8M", "delay-read=60" });
	ASSERT_TRUE(src->ok()) << src->log();
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(8 * MiB, 0));
	setenv("RESYNC_NBD_IO_TIMEOUT_MS", "1000", 1);
	auto start = std::chrono::steady_clock::now();
	auto res = copy_within(std::chrono::seconds(30), src->uri(), raw, [](resync *r) {
		resync_set_queue_depth(r, 4);
		resync_set_nbd_connections(r, 1);
	});
	double secs =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	unsetenv("RESYNC_NBD_IO_TIMEOUT_MS");
	src->crash();
	EXPECT_EQ(res.ret, -ETIMEDOUT);
	EXPECT_EQ(res.error,
		  "source " + src->uri() +
			  ": no reply from the server within 1000 ms (4 requests in flight)");
	EXPECT_EQ(res.st.bytes_written, 0u);
	EXPECT_GE(secs, 1.0);
	EXPECT_LT(secs, 10.0);
}

// With one request at a time and 100 ms per read, the copy takes about a
// second; the thread must spend it asleep in the ring, not polling.
TEST(Polling, SlowServerDoesNotMakeTheLoopSpin)
{
	rt::TempDir tmp;
	auto src =
		nbdt::nbdkit(tmp, "src", { "--filter=delay", "pattern", "8M", "delay-read=100ms" });
	ASSERT_TRUE(src->ok()) << src->log();
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(8 * MiB, 0));
	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);
	auto start = std::chrono::steady_clock::now();
	auto res = nbdt::copy(src->uri(), raw, RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_queue_depth(r, 1); });
	double wall =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	getrusage(RUSAGE_SELF, &after);
	ASSERT_EQ(res.ret, 0) << res.error;
	auto secs = [](const timeval &t) { return t.tv_sec + t.tv_usec / 1e6; };
	double cpu = secs(after.ru_utime) - secs(before.ru_utime) + secs(after.ru_stime) -
		     secs(before.ru_stime);
	EXPECT_GE(wall, 0.8);
	EXPECT_LT(cpu, wall / 4) << "cpu " << cpu << " s over " << wall << " s";
}

} // namespace
