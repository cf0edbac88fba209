// SPDX-License-Identifier: MIT
// The tracking filter's promise under crashes: random writes, zeroes and
// trims from several connections (FUA and flushes mixed in), nbdkit killed
// with SIGKILL after a random number of acknowledged requests (or by the
// fault shim in the middle of a write to the log), then the log is read
// back: every block that differs between the base and the disk has its bit
// set (no false negatives, ever), and every set bit lies in a region some
// request touched (false positives bounded by the hot regions).  Reopening
// the log with the filter recovers it and records that.
#include <gtest/gtest.h>
#include <atomic>
#include <chrono>
#include <libnbd.h>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include "harness.h"
#include "stress.h"

namespace {

constexpr uint64_t kSize = 32ull << 20;

enum class Fault { none, tear, eio };

struct Storm {
	std::mutex m;
	std::set<uint64_t> regions; // regions of every request issued
	std::atomic<long> acked{ 0 }, failed{ 0 };
	std::atomic<bool> stop{ false };
	std::atomic<int> running{ 0 };
	uint64_t region_size = 0;
};

void client(Storm &s, const std::string &sock, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	struct nbd_handle *h = nbd_create();
	if (!h || nbd_connect_unix(h, sock.c_str()) == -1) {
		nbd_close(h);
		s.running--;
		return;
	}
	std::vector<uint8_t> buf(256 << 10);
	while (!s.stop) {
		uint64_t off = (rng() % (kSize / 512)) * 512;
		uint64_t len = std::min<uint64_t>((rng() % 512 + 1) * 512, kSize - off);
		unsigned kind = rng() % 100;
		uint32_t flags = rng() % 4 == 0 ? LIBNBD_CMD_FLAG_FUA : 0;
		if (kind >= 95) {
			if (nbd_flush(h, 0) == -1 && nbd_aio_is_dead(h))
				break;
			continue;
		}
		{
			std::lock_guard<std::mutex> g(s.m);
			for (uint64_t r = off / s.region_size; r <= (off + len - 1) / s.region_size;
			     r++)
				s.regions.insert(r);
		}
		int rc;
		if (kind < 70) {
			memset(buf.data(), (int)(rng() % 255 + 1), len);
			rc = nbd_pwrite(h, buf.data(), len, off, flags);
		} else if (kind < 85) {
			rc = nbd_zero(h, len, off, flags);
		} else {
			rc = nbd_trim(h, len, off, flags);
		}
		if (rc == 0)
			s.acked++;
		else if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			break;
		else
			s.failed++;
	}
	nbd_close(h);
	s.running--;
}

void round(uint64_t seed, Fault fault)
{
	SCOPED_TRACE("seed " + std::to_string(seed));
	std::mt19937_64 rng(seed);
	rt::TempDir d;
	const std::string base = d.path("base"), disk = d.path("disk"), log = d.path("t.rbm");
	rt::Bytes data = rt::random_bytes(kSize, seed);
	rt::write_file(base, data);
	rt::write_file(disk, data);
	const uint64_t g = 1ull << (9 + rng() % 8);                              // 512 .. 64K
	const uint64_t region = std::max<uint64_t>(g, 1ull << (18 + rng() % 5)); // 256K .. 4M
	std::vector<std::string> args = { "granularity=" + std::to_string(g),
					  "region=" + std::to_string(region),
					  "idle=" + std::string(rng() % 2 ? "1" : "100") };
	std::vector<std::string> env;
	if (fault != Fault::none)
		env = { "LD_PRELOAD=" + trk::shim_path(), "TRACK_FAULT_FILE=" + log,
			"TRACK_FAULT_MODE=" + std::string(fault == Fault::tear ? "tear" : "eio"),
			"TRACK_FAULT_AT=" +
				std::to_string(2 + rng() % (fault == Fault::eio ? 8 : 40)),
			"TRACK_FAULT_KEEP=" + std::to_string(rng() % 4096) };

	Storm s;
	s.region_size = region;
	long kill_after = fault == Fault::eio ? 1000000 : (long)(rng() % 300);
	{
		trk::Nbdkit srv(d, disk, log, args, env);
		ASSERT_TRUE(srv.ok()) << srv.log();
		std::vector<std::thread> clients;
		unsigned conns = 1 + rng() % 3;
		s.running = (int)conns;
		for (unsigned i = 0; i < conns; i++)
			clients.emplace_back(client, std::ref(s), srv.socket(), rng());
		// Progress decides the moment, not a clock; the bound is generous.
		auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
		while (s.acked < kill_after && srv.alive() && s.running > 0 &&
		       std::chrono::steady_clock::now() < until &&
		       !(fault == Fault::eio && s.failed > 20))
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		srv.kill9();
		s.stop = true;
		for (auto &t : clients)
			t.join();
	}
	// A log that cannot be written refuses the writes instead of losing them.
	if (fault == Fault::eio) {
		EXPECT_GT(s.failed.load(), 20);
	}

	std::string why;
	struct rc_track pre;
	ASSERT_EQ(trk::read_log(log, &pre, &why), 0) << why;
	uint64_t recovered_now = pre.recovered_now;
	rc_track_fini(&pre);
	std::vector<bool> bits = trk::engine_bits(log, g, &why);
	ASSERT_EQ(bits.size(), (kSize + g - 1) / g) << why;
	rt::Bytes after = rt::read_file(disk);
	ASSERT_EQ(after.size(), kSize);
	uint64_t differing = 0, set = 0;
	for (uint64_t b = 0; b < bits.size(); b++) {
		bool differs = memcmp(&data[b * g], &after[b * g], g) != 0;
		differing += differs;
		set += bits[b];
		ASSERT_TRUE(!differs || bits[b]) << "block " << b << " (offset " << b * g
						 << ") was written but its bit is clear";
		ASSERT_TRUE(!bits[b] || s.regions.count(b * g / region))
			<< "block " << b << " is set but no request touched its region";
	}
	EXPECT_GE(set, differing);

	// The filter itself recovers the log on its next start.
	{
		trk::Nbdkit srv(d, disk, log, args);
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(srv.stop(), 0) << srv.log();
	}
	struct rc_track post;
	ASSERT_EQ(trk::read_log(log, &post, &why), 0) << why;
	EXPECT_FALSE(post.flags & RESYNC_TRACK_F_OPEN);
	if (recovered_now) {
		EXPECT_TRUE(post.flags & RESYNC_TRACK_F_RECOVERED);
		EXPECT_EQ(post.recovered_regions, recovered_now);
	}
	for (uint64_t b = 0; b < bits.size(); b++)
		ASSERT_EQ(rc_track_test(post.bits, b), (int)bits[b])
			<< "block " << b << " changed on recovery";
	rc_track_fini(&post);
}

TEST(TrackCrash, KillNineStormNeverLosesAWrite)
{
	int n = rt::rounds(4, 100);
	for (int i = 0; i < n; i++) {
		round(1000 + (uint64_t)i, Fault::none);
		if (HasFatalFailure())
			return;
	}
}

TEST(TrackCrash, TornLogWriteNeverLosesAWrite)
{
	int n = rt::rounds(3, 20);
	for (int i = 0; i < n; i++) {
		round(2000 + (uint64_t)i, Fault::tear);
		if (HasFatalFailure())
			return;
	}
}

TEST(TrackCrash, FailingLogWritesRefuseTheWrite)
{
	int n = rt::rounds(1, 5);
	for (int i = 0; i < n; i++) {
		round(3000 + (uint64_t)i, Fault::eio);
		if (HasFatalFailure())
			return;
	}
}

} // namespace
