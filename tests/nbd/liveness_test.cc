// SPDX-License-Identifier: MIT
// Liveness of NBD endpoints outside the copy loop's requests: a flush or a
// block-status reply the server delays is bounded by the I/O timeout and cut
// short by resync_cancel(); a server replying slowly but steadily is not
// "silent"; a server that dies is ENOTCONN, never libnbd's EINVAL.  The
// servers are real (nbdkit with its delay and log filters).
#include <gtest/gtest.h>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <thread>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstring>
#include <resync/resync.h>
#include "servers.h"
#include "stress.h"

namespace {

constexpr uint64_t MiB = 1 << 20;
// The fixture's disk: small, the eval plugin forks a shell per request.
constexpr uint64_t kSize = 1 * MiB;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t)
{
	return std::chrono::duration<double>(Clock::now() - t).count();
}

// Sets RESYNC_NBD_IO_TIMEOUT_MS for one test.
struct IoTimeout {
	explicit IoTimeout(const char *ms)
	{
		setenv("RESYNC_NBD_IO_TIMEOUT_MS", ms, 1);
	}
	~IoTimeout()
	{
		unsetenv("RESYNC_NBD_IO_TIMEOUT_MS");
	}
};

// Requests of kind ("Flush", "Extents", ...) in an nbdkit log filter's file.
int logged(const std::string &log, const std::string &kind)
{
	std::ifstream in(log);
	std::string line;
	int n = 0;
	while (std::getline(in, line))
		n += line.find(" " + kind + " id=") != std::string::npos;
	return n;
}

// Waits (bounded) until the log holds more than `before` requests of kind:
// the request has reached the server.
bool wait_logged(const std::string &log, const std::string &kind, int before = 0)
{
	for (int i = 0; i < 600; i++) {
		if (logged(log, kind) > before)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return false;
}

// nbdkit's eval plugin serving FILE through shell snippets (data in the
// file), with `flush` as the flush method: what nbdkit's filters cannot do
// (hold or fail a flush) a plugin can.
std::unique_ptr<nbdt::Server> file_with_flush(const rt::TempDir &tmp, const std::string &name,
					      const std::string &file, const std::string &flush,
					      const std::string &logfile = "")
{
	std::vector<std::string> args;
	if (!logfile.empty())
		args.push_back("--filter=log");
	for (std::string a : {
		     std::string("eval"),
		     "get_size=stat -c %s " + file,
		     "pread=dd if=" + file +
			     " skip=$4 count=$3 iflag=skip_bytes,count_bytes status=none",
		     "pwrite=dd of=" + file + " seek=$4 oflag=seek_bytes conv=notrunc status=none",
		     std::string("can_write=exit 0"),
		     std::string("can_flush=exit 0"),
		     "flush=" + flush,
	     })
		args.push_back(a);
	if (!logfile.empty())
		args.push_back("logfile=" + logfile);
	return nbdt::nbdkit(tmp, name, args);
}

// The engine on another thread; a hang fails the test instead of the suite.
std::future<nbdt::Result> start_copy(resync *r)
{
	return std::async(std::launch::async, [r] {
		nbdt::Result res{};
		res.ret = resync_run(r);
		resync_get_stats(r, &res.st);
		res.error = resync_error(r);
		res.error_offset = resync_error_offset(r);
		return res;
	});
}

nbdt::Result finish(std::future<nbdt::Result> &fut, int limit_s)
{
	if (fut.wait_for(std::chrono::seconds(limit_s)) != std::future_status::ready) {
		ADD_FAILURE() << "the copy did not return within " << limit_s << " s";
		std::_Exit(1);
	}
	return fut.get();
}

resync *handle(const std::string &src, const std::string &dst)
{
	resync *r = resync_new();
	resync_set_source(r, src.c_str());
	resync_set_target(r, dst.c_str());
	resync_set_mode(r, RESYNC_FULL, nullptr);
	return r;
}

class Liveness : public ::testing::Test {
protected:
	void SetUp() override
	{
		data_ = rt::random_bytes(kSize, 41);
		src_ = tmp_.path("src.img");
		rt::write_file(src_, data_);
		dstf_ = tmp_.path("dst.img");
		rt::write_file(dstf_, rt::Bytes(kSize, 0x5a));
		log_ = tmp_.path("dst.log");
	}
	rt::TempDir tmp_;
	rt::Bytes data_;
	std::string src_, dstf_, log_;
};

// A flush the server holds for 60 s ends with ETIMEDOUT after the I/O
// timeout; it used to be waited for in full (and then "succeeded").
TEST_F(Liveness, SlowFlushTimesOut)
{
	auto dst = file_with_flush(tmp_, "dst", dstf_, "exec sleep 60");
	ASSERT_TRUE(dst->ok()) << dst->log();
	resync *r = handle(src_, dst->uri());
	ASSERT_EQ(resync_set_nbd_timeout(r, 1000), 0);
	auto start = Clock::now();
	auto fut = start_copy(r);
	auto res = finish(fut, 50);
	resync_free(r);
	EXPECT_EQ(res.ret, -ETIMEDOUT) << res.error;
	EXPECT_EQ(res.error,
		  "target " + dst->uri() + ": flush: no answer from the server within 1000 ms");
	EXPECT_LT(since(start), 30.0);
	// SIGTERM would wait for the held flush.
	dst->crash();
}

// resync_cancel() while the server holds the final flush: -ECANCELED at once
// (the cancel used to wait for the 60 s flush and then report success).
TEST_F(Liveness, CancelCutsASlowFlushShort)
{
	auto dst = file_with_flush(tmp_, "dst", dstf_, "exec sleep 60", log_);
	ASSERT_TRUE(dst->ok()) << dst->log();
	std::string ck = tmp_.path("ck");
	resync *r = handle(src_, dst->uri());
	resync_set_checkpoint(r, ck.c_str(), 0, 0);
	auto fut = start_copy(r);
	ASSERT_TRUE(wait_logged(log_, "Flush"));
	auto start = Clock::now();
	resync_cancel(r);
	auto res = finish(fut, 50);
	double secs = since(start);
	resync_free(r);
	EXPECT_EQ(res.ret, -ECANCELED) << res.error;
	EXPECT_LT(secs, 10.0);
	// Nothing was flushed: the checkpoint still holds the whole disk.
	resync_bitmap *b = nullptr;
	ASSERT_EQ(resync_bitmap_load(&b, ck.c_str()), 0);
	EXPECT_EQ(resync_bitmap_dirty_bytes(b), kSize);
	resync_bitmap_free(b);
	dst->crash();
}

// Planning asks the source for its allocation: a reply the server holds for
// 60 s times out, and a cancel meanwhile is seen at once.
TEST_F(Liveness, SlowBlockStatusTimesOutAndIsCancellable)
{
	auto srv = nbdt::nbdkit(tmp_, "src",
				{ "--filter=log", "--filter=delay", "file", src_, "logfile=" + log_,
				  "delay-extents=60" });
	ASSERT_TRUE(srv->ok()) << srv->log();
	{
		resync *r = handle(srv->uri(), dstf_);
		ASSERT_EQ(resync_set_nbd_timeout(r, 1000), 0);
		auto start = Clock::now();
		auto fut = start_copy(r);
		auto res = finish(fut, 50);
		resync_free(r);
		EXPECT_EQ(res.ret, -ETIMEDOUT) << res.error;
		EXPECT_EQ(res.error,
			  "source " + srv->uri() +
				  ": block status: no answer from the server within 1000 ms "
				  "(base:allocation)");
		EXPECT_LT(since(start), 30.0);
		EXPECT_EQ(res.st.bytes_written, 0u);
	}
	int before = logged(log_, "Extents");
	resync *r = handle(srv->uri(), dstf_);
	auto fut = start_copy(r);
	ASSERT_TRUE(wait_logged(log_, "Extents", before));
	auto start = Clock::now();
	resync_cancel(r);
	auto res = finish(fut, 50);
	double secs = since(start);
	resync_free(r);
	EXPECT_EQ(res.ret, -ECANCELED) << res.error;
	EXPECT_LT(secs, 10.0);
	EXPECT_EQ(rt::read_file(dstf_), rt::Bytes(kSize, 0x5a));
}

// The stall timeout is per handle: 1 ms .. 24 h, 0 for the default.
TEST(NbdTimeout, RangeIsChecked)
{
	resync *r = resync_new();
	EXPECT_EQ(resync_set_nbd_timeout(r, 0), 0);
	EXPECT_EQ(resync_set_nbd_timeout(r, 1), 0);
	EXPECT_EQ(resync_set_nbd_timeout(r, 24u * 3600 * 1000), 0);
	EXPECT_EQ(resync_set_nbd_timeout(r, 24u * 3600 * 1000 + 1), -EINVAL);
	resync_free(r);
}

// A server that accepts and never answers: resync_cancel() ends the
// handshake's wait at once instead of after the 30 s connect timeout.
TEST(Unreachable, CancelEndsTheHandshakeWait)
{
	rt::TempDir tmp;
	std::string sock = tmp.path("silent.sock"), raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(1 * MiB, 0x55));
	rt::SilentServer server(sock);
	resync *r = handle("nbd+unix:///?socket=" + sock, raw);
	auto fut = start_copy(r);
	// The connection is queued on the socket once the engine is waiting.
	int conn = -1;
	for (int i = 0; i < 600 && conn < 0; i++) {
		pollfd p{ server.fd(), POLLIN, 0 };
		if (poll(&p, 1, 50) == 1)
			conn = accept(server.fd(), nullptr, nullptr);
	}
	ASSERT_GE(conn, 0);
	auto start = Clock::now();
	resync_cancel(r);
	auto res = finish(fut, 50);
	double secs = since(start);
	resync_free(r);
	close(conn);
	EXPECT_EQ(res.ret, -ECANCELED) << res.error;
	EXPECT_LT(secs, 10.0);
	EXPECT_EQ(rt::read_file(raw), rt::Bytes(1 * MiB, 0x55));
}

// One 256 MiB zero request goes out as eight 32 MiB commands, which a server
// answering one at a time (-t 1) takes a second each for: 8 s in all, longer
// than the 3 s timeout, while a reply comes every second.  Any reply is
// progress, so the copy succeeds (it used to time out).
TEST_F(Liveness, SlowButSteadyZeroingIsNotAStall)
{
	IoTimeout io("3000");
	const uint64_t size = 256 * MiB;
	std::string src = tmp_.path("zero.img"), tgt = tmp_.path("thick.img");
	rt::sparse_file(src, size);
	rt::write_file(tgt, rt::Bytes(size, 0x77));
	auto dst = nbdt::nbdkit(tmp_, "thick",
				{ "-t", "1", "--filter=delay", "file", tgt, "delay-zero=1" });
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_nbd_connections(r, 1); });
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.bytes_zeroed, size);
	dst->stop();
	EXPECT_EQ(rt::read_file(tgt), rt::Bytes(size, 0));
}

// A server killed at a random point of the copy: the error is always the
// connection's (ENOTCONN), never libnbd's "invalid state" EINVAL.  The kill
// comes from the progress callback, while the server goes on answering the
// reads in flight: the engine then finds replies and the hangup together,
// hands a finished read to the copy, which sends the next one at once on the
// connection that just died.
TEST(ServerDeath, AlwaysNotConnected)
{
	rt::TempDir tmp;
	std::mt19937_64 rng(std::random_device{}());
	std::string raw = tmp.path("raw.img");
	rt::write_file(raw, rt::Bytes(64 * MiB, 0));
	for (int round = 0, n = rt::rounds(10, 60); round < n; round++) {
		auto src = nbdt::nbdkit(tmp, "src", { "pattern", "64M" });
		ASSERT_TRUE(src->ok()) << src->log();
		struct Kill {
			nbdt::Server *srv;
			uint64_t at;
			bool done;
		} k{ src.get(), rng() % (48 * MiB), false };
		auto res = nbdt::copy(src->uri(), raw, RESYNC_FULL, nullptr, [&](resync *r) {
			resync_set_queue_depth(r, 4 + (unsigned)(rng() % 29));
			resync_set_request_size(r, 64 << 10);
			resync_set_nbd_connections(r, 1 + (unsigned)(rng() % 2));
			resync_set_progress(
				r,
				[](const resync_stats *st, void *arg) {
					auto *kk = static_cast<Kill *>(arg);
					if (!kk->done && st->bytes_done >= kk->at) {
						kk->done = true;
						kk->srv->crash();
					}
				},
				&k, 1);
		});
		ASSERT_TRUE(k.done) << "round " << round;
		EXPECT_EQ(res.ret, -ENOTCONN) << "round " << round << ": " << res.error;
		EXPECT_EQ(res.error.find("invalid state"), std::string::npos) << res.error;
		EXPECT_EQ(res.error.rfind("source " + src->uri() + ": ", 0), 0u) << res.error;
	}
}

} // namespace
