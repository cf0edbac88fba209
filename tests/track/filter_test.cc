// SPDX-License-Identifier: MIT
// nbdkit-resync-track-filter with real clients: the exact blocks written by
// qemu-io, nbdcopy and a libnbd multi-conn writer (FUA) after a clean stop;
// flushes and idle time cool the regions; rotation through the control
// socket; resync copies only what the log names; and bad input stops
// nbdkit with a clear message, the log left untouched.
#include <gtest/gtest.h>
#include <chrono>
#include <functional>
#include <libnbd.h>
#include <sys/stat.h>
#include <thread>
#include "harness.h"

namespace {

constexpr uint64_t kSize = 32ull << 20;
constexpr uint64_t kGran = 64 << 10;
const std::string kGen1 = "11111111111111111111111111111111";
const std::string kGen2 = "22222222222222222222222222222222";

std::string bin(const std::string &tool)
{
	return rt::bin_dir() + "/" + tool;
}

std::vector<uint64_t> set_blocks(const std::string &log)
{
	std::string why;
	std::vector<bool> bits = trk::engine_bits(log, kGran, &why);
	EXPECT_FALSE(bits.empty()) << why;
	std::vector<uint64_t> out;
	for (uint64_t i = 0; i < bits.size(); i++)
		if (bits[i])
			out.push_back(i);
	return out;
}

std::vector<uint64_t> range(uint64_t first, uint64_t n)
{
	std::vector<uint64_t> v;
	for (uint64_t i = 0; i < n; i++)
		v.push_back(first + i);
	return v;
}

struct rc_track live(const std::string &log)
{
	struct rc_track t;
	std::string why;
	EXPECT_EQ(trk::read_log(log, &t, &why), 0) << why;
	return t;
}

bool any_hot(const struct rc_track &t)
{
	for (uint64_t r = 0; r < t.region_count; r++)
		if (rc_track_test(t.hot, r))
			return true;
	return false;
}

class TrackFilter : public ::testing::Test {
protected:
	rt::TempDir d;
	std::string disk = d.path("disk"), log = d.path("t.rbm");
	void SetUp() override
	{
		rt::sparse_file(disk, kSize);
	}
};

TEST_F(TrackFilter, CleanStopRecordsExactlyWhatClientsWrote)
{
	rt::write_file(d.path("src"), rt::random_bytes(256 << 10, 7));
	{
		trk::Nbdkit srv(d, disk, log, { "granularity=64K", "generation=" + kGen1 });
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() +
				 "' -c 'write -P 7 1M 64k' "
				 "-c 'write -z 8M 128k' -c 'discard 16M 64k' >/dev/null"),
			  0);
		ASSERT_EQ(rt::sh("nbdcopy --flush '" + d.path("src") + "' '" + srv.uri() + "'"), 0)
			<< srv.log();
		// Four connections at once, FUA on every write.
		std::vector<std::thread> ws;
		std::atomic<int> ok{ 0 };
		for (int c = 0; c < 4; c++)
			ws.emplace_back([&, c] {
				struct nbd_handle *h = nbd_create();
				std::vector<char> buf(kGran, (char)('a' + c));
				if (h && nbd_connect_unix(h, srv.socket().c_str()) == 0 &&
				    nbd_pwrite(h, buf.data(), kGran,
					       (20ull << 20) + (uint64_t)c * kGran,
					       LIBNBD_CMD_FLAG_FUA) == 0 &&
				    nbd_shutdown(h, 0) == 0)
					ok++;
				nbd_close(h);
			});
		for (auto &w : ws)
			w.join();
		ASSERT_EQ(ok.load(), 4);
		ASSERT_EQ(srv.stop(), 0) << srv.log();
	}
	std::vector<uint64_t> want = range(0, 4); // nbdcopy: 256K at 0
	want.push_back(16);                       // 1M
	want.push_back(128), want.push_back(129); // 8M, 128K of zeroes
	want.push_back(256);                      // 16M trimmed
	for (uint64_t b : range(320, 4))          // 20M, four connections
		want.push_back(b);
	EXPECT_EQ(set_blocks(log), want);
	struct rc_track t = live(log);
	EXPECT_FALSE(t.flags & RESYNC_TRACK_F_OPEN);
	EXPECT_FALSE(any_hot(t));
	rc_track_fini(&t);
	EXPECT_EQ(rt::read_file(disk)[(20 << 20) + 3 * kGran], 'd');
}

// Polls the live log until no region is hot, calling between() before each
// look; a generous bound, the machine is shared.
bool cools(const std::string &log, const std::function<void()> &between)
{
	for (int i = 0; i < 600; i++) {
		between();
		struct rc_track t = live(log);
		bool cold = !any_hot(t);
		rc_track_fini(&t);
		if (cold)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	return false;
}

TEST_F(TrackFilter, FlushesCoolRegions)
{
	trk::Nbdkit srv(d, disk, log, { "idle=1000" });
	ASSERT_TRUE(srv.ok()) << srv.log();
	struct nbd_handle *h = nbd_create();
	ASSERT_EQ(nbd_connect_unix(h, srv.socket().c_str()), 0) << nbd_get_error();
	std::vector<char> buf(4096, 'x');
	ASSERT_EQ(nbd_pwrite(h, buf.data(), buf.size(), 5 << 20, 0), 0);
	struct rc_track t = live(log);
	EXPECT_TRUE(t.flags & RESYNC_TRACK_F_OPEN);
	EXPECT_TRUE(rc_track_test(t.hot, 1))
		<< "the region was not hot before the write was acknowledged";
	rc_track_fini(&t);
	// A flush asks for a pass; a region cools at the first pass that finds
	// it unwritten since the previous one, its bits durable by then.
	EXPECT_TRUE(cools(log, [&] { ASSERT_EQ(nbd_flush(h, 0), 0); }));
	t = live(log);
	EXPECT_EQ(t.recovered_now, 0u);
	rc_track_fini(&t);
	EXPECT_EQ(set_blocks(log), std::vector<uint64_t>{ 80 });
	nbd_close(h);
}

TEST_F(TrackFilter, IdleTimeCoolsRegions)
{
	trk::Nbdkit srv(d, disk, log, { "idle=1" });
	ASSERT_TRUE(srv.ok()) << srv.log();
	ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() + "' -c 'write 9M 4k' >/dev/null"), 0);
	EXPECT_TRUE(cools(log, [] {}));
	EXPECT_EQ(set_blocks(log), std::vector<uint64_t>{ 144 });
}

TEST_F(TrackFilter, RotateSavesTheIntervalAndRestartsEmpty)
{
	std::string ctl = d.path("ctl"), snap = d.path("snap1.rbm");
	trk::Nbdkit srv(d, disk, log, { "control=" + ctl, "generation=" + kGen1 });
	ASSERT_TRUE(srv.ok()) << srv.log();
	ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() + "' -c 'write -P 1 1M 4k' >/dev/null"), 0);
	std::string out;
	EXPECT_EQ(rt::sh(bin("resync-bitmap") + " rotate " + ctl + " nothex " + snap + " 2>&1",
			 &out),
		  2);
	EXPECT_NE(out.find("bad generation nothex"), std::string::npos) << out;
	ASSERT_EQ(rt::sh(bin("resync-bitmap") + " rotate " + ctl + " " + kGen2 + " " + snap +
				 " 2>&1",
			 &out),
		  0)
		<< out;
	ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() + "' -c 'write -P 1 2M 4k' >/dev/null"), 0);
	ASSERT_EQ(srv.stop(), 0) << srv.log();

	EXPECT_EQ(set_blocks(snap), std::vector<uint64_t>{ 16 });
	EXPECT_EQ(set_blocks(log), std::vector<uint64_t>{ 32 });
	struct rc_track s = live(snap), l = live(log);
	EXPECT_FALSE(s.flags & RESYNC_TRACK_F_OPEN);
	EXPECT_EQ(s.generation[0], 0x11);
	EXPECT_EQ(l.generation[0], 0x22);
	rc_track_fini(&s);
	rc_track_fini(&l);
	// merge: the union of both intervals.
	ASSERT_EQ(rt::sh(bin("resync-bitmap") + " merge " + d.path("m.rbm") + " " + snap + " " +
			 log),
		  0);
	EXPECT_EQ(set_blocks(d.path("m.rbm")), (std::vector<uint64_t>{ 16, 32 }));
}

TEST_F(TrackFilter, ResyncCopiesOnlyTrackedBlocks)
{
	rt::Bytes base = rt::random_bytes(kSize, 3);
	rt::write_file(disk, base);
	rt::write_file(d.path("target"), base);
	// A block nobody wrote through the filter, different on the target:
	// a copy by the log leaves it alone.
	rt::pwrite_at(d.path("target"), 30 << 20, rt::Bytes(512, 0xee));
	{
		trk::Nbdkit srv(d, disk, log, { "granularity=64K" });
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() +
				 "' -c 'write -P 9 3M 100k' "
				 "-c 'write -z 12M 64k' >/dev/null"),
			  0);
		srv.kill9(); // recovered by the reader: hot regions counted
	}
	std::string out;
	ASSERT_EQ(rt::sh(bin("resync") + " copy " + disk + " " + d.path("target") + " --bitmap " +
				 log + " --no-direct 2>&1",
			 &out),
		  0)
		<< out;
	rt::Bytes got = rt::read_file(d.path("target")), want = rt::read_file(disk);
	EXPECT_EQ(got[30 << 20], 0xee);
	memcpy(&want[30 << 20], &got[30 << 20], 512);
	EXPECT_TRUE(got == want);
}

// Bad input: nbdkit exits non-zero naming the problem; the log is untouched.
class TrackBadInput : public TrackFilter {
protected:
	void make_log()
	{
		trk::Nbdkit srv(d, disk, log, { "granularity=64K" });
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() + "' -c 'write 1M 4k' >/dev/null"),
			  0);
		ASSERT_EQ(srv.stop(), 0);
	}
	void refused(const std::vector<std::string> &args, const std::string &message)
	{
		std::string before = rt::sha256(log);
		trk::Nbdkit srv(d, disk, log, args);
		EXPECT_FALSE(srv.ok());
		EXPECT_EQ(srv.status(), 1) << srv.log();
		EXPECT_NE(srv.log().find(message), std::string::npos) << srv.log();
		EXPECT_EQ(rt::sha256(log), before);
	}
};

TEST_F(TrackBadInput, WrongSizeForTheDisk)
{
	make_log();
	ASSERT_EQ(truncate(disk.c_str(), 2 * kSize), 0);
	refused({}, "bitmap " + log +
			    " covers 33554432 bytes but the disk has 67108864; refusing to start");
}

TEST_F(TrackBadInput, CorruptedBitmap)
{
	make_log();
	struct rc_track t = live(log);
	uint64_t at = rc_track_block_offset(&t, 0) + 30;
	rc_track_fini(&t);
	rt::Bytes all = rt::read_file(log);
	rt::pwrite_at(log, at, { (uint8_t)(all[at] ^ 1) });
	refused({},
		"bitmap " + log +
			" cannot be trusted: bitmap block checksum mismatch (corrupted); refusing to start");
	rt::pwrite_at(log, at, { all[at] });
	rt::pwrite_at(log, 20, { (uint8_t)(all[20] ^ 1) });
	refused({}, "cannot be trusted: header checksum mismatch (corrupted)");
}

TEST_F(TrackBadInput, ReadOnlyBitmap)
{
	make_log();
	ASSERT_EQ(chmod(log.c_str(), 0444), 0);
	refused({}, "bitmap " + log + " is read-only");
}

TEST_F(TrackBadInput, GranularityNotAPowerOfTwo)
{
	make_log();
	refused({ "granularity=3000" }, "granularity=3000: not a power of two");
	refused({ "granularity=4K" }, "has granularity 65536, not granularity=4096");
	refused({ "region=3M" }, "region=3M: not a power of two");
}

} // namespace

namespace {

// resync-bitmap reset: an open log (its server alive, or dead) is refused
// without --force; a reset log is empty, closed, under the new generation.
TEST_F(TrackFilter, ResetRefusesAnOpenLogWithoutForce)
{
	{
		trk::Nbdkit srv(d, disk, log, {});
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(rt::sh("qemu-io -f raw '" + srv.uri() + "' -c 'write 1M 4k' >/dev/null"),
			  0);
		srv.kill9();
	}
	std::string before = rt::sha256(log), out;
	EXPECT_EQ(rt::sh(bin("resync-bitmap") + " reset " + log + " " + kGen2 + " 2>&1", &out), 1);
	EXPECT_NE(out.find("the log is open"), std::string::npos) << out;
	EXPECT_EQ(rt::sha256(log), before);
	ASSERT_EQ(rt::sh(bin("resync-bitmap") + " reset " + log + " " + kGen2 + " --force 2>&1",
			 &out),
		  0)
		<< out;
	EXPECT_TRUE(set_blocks(log).empty());
	struct rc_track t = live(log);
	EXPECT_EQ(t.flags, 0u);
	EXPECT_EQ(t.generation[15], 0x22);
	rc_track_fini(&t);
	// The filter takes the reset log up again.
	trk::Nbdkit srv(d, disk, log, {});
	ASSERT_TRUE(srv.ok()) << srv.log();
	ASSERT_EQ(srv.stop(), 0);
}

} // namespace
