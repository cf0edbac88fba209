// SPDX-License-Identifier: MIT
// Durability onto NBD targets, tested rather than assumed: a target whose
// flush fails fails the copy and keeps every block planned; writes failing
// from a trigger file resume to identical bytes; and a target behind a
// volatile write cache (nbdkit's cache filter, cache=writeback) killed at
// random points of the copy — a power loss — resumes to identical bytes every
// time.  That last one fails if a checkpoint is saved before the target's
// flush or the final flush is skipped: the killed cache then held blocks the
// checkpoint had retired.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>
#include <unistd.h>
#include <resync/resync.h>
#include "servers.h"
#include "stress.h"

namespace {

class Durability : public nbdt::Images {};

constexpr uint64_t MiB = 1 << 20;

uint64_t checkpoint_dirty_bytes(const std::string &ck)
{
	resync_bitmap *b = nullptr;
	if (resync_bitmap_load(&b, ck.c_str()))
		return UINT64_MAX;
	uint64_t n = resync_bitmap_dirty_bytes(b);
	resync_bitmap_free(b);
	return n;
}

// A target whose flush fails (nbdkit's eval plugin, data in a file): the copy
// fails naming the flush once, and the checkpoint still plans the whole disk:
// no block was retired by a write that never became durable.
TEST_F(Durability, FailingFlushFailsTheCopyAndKeepsTheWholeDisk)
{
	images(rt::random_bytes(4 * MiB, 61), rt::Bytes(4 * MiB, 0x33));
	auto dst = nbdt::nbdkit_flaky_flush(tmp, "dst", tgt,
					    "echo 'EIO the disk refuses to flush' >&2; exit 1");
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr,
			      [&](resync *r) { resync_set_checkpoint(r, ck.c_str(), 0, 1 * MiB); });
	EXPECT_EQ(res.ret, -EIO) << res.error;
	// The first checkpoint's flush fails (it runs on the ring beside the
	// writes, as a file target's does on its thread, and says the same).
	EXPECT_EQ(res.error, "target " + dst->uri() + ": flush: Input/output error");
	EXPECT_EQ(res.st.bytes_planned, 4 * MiB);
	EXPECT_EQ(checkpoint_dirty_bytes(ck), 4 * MiB);
}

// The server's first flush fails and later ones succeed, as a disk behind
// Linux reports a write-back error once (nbdkit's eval plugin, a flag file).
// The copy fails with that EIO and records nothing after it: the save after
// the failure may not flush again and retire blocks, so the checkpoint still
// plans the whole disk, and the rerun resumes it to identical bytes.
TEST_F(Durability, FlushFailingOnceRetiresNothingAfterIt)
{
	images(rt::random_bytes(4 * MiB, 63), rt::Bytes(4 * MiB, 0x33));
	std::string failed = tmp.path("failed");
	auto dst = nbdt::nbdkit_flaky_flush(
		tmp, "dst", tgt,
		"test -e " + failed + " && exit 0; touch " + failed +
			"; echo 'EIO the disk lost a write-back' >&2; exit 1");
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto configure = [&](resync *r) { resync_set_checkpoint(r, ck.c_str(), 0, 1 * MiB); };
	auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, configure);
	EXPECT_EQ(res.ret, -EIO) << res.error;
	// A checkpoint's flush goes out on the ring beside the writes (doc/nbd.md).
	EXPECT_EQ(res.error, "target " + dst->uri() + ": flush: Input/output error");
	EXPECT_EQ(checkpoint_dirty_bytes(ck), 4 * MiB)
		<< "the checkpoint retired blocks after the failed flush";
	res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, configure);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.resumed, 1u);
	EXPECT_EQ(res.st.bytes_planned, 4 * MiB);
	EXPECT_TRUE(rt::read_file(tgt) == data);
}

struct Trigger {
	std::string path;
	uint64_t at;
	bool made;
};

// Writes fail (EIO) once a trigger file exists (nbdkit's error filter); it
// appears at a random point of the copy, which fails; with it gone the copy
// resumes from its checkpoint to identical bytes.
TEST_F(Durability, WritesFailingFromATriggerResumeToIdentical)
{
	std::mt19937_64 rng(std::random_device{}());
	const uint64_t size = 32 * MiB;
	images(rt::random_bytes(size, 62));
	for (int round = 0, n = rt::rounds(2, 10); round < n; round++) {
		rt::write_file(tgt, rt::random_bytes(size, 63 + round));
		unlink(ck.c_str());
		Trigger t{ tmp.path("trigger"), 4 * MiB + rng() % (20 * MiB), false };
		unlink(t.path.c_str());
		auto dst =
			nbdt::nbdkit(tmp, "dst",
				     { "--filter=error", "file", tgt, "error-pwrite=EIO",
				       "error-pwrite-rate=100%", "error-pwrite-file=" + t.path });
		ASSERT_TRUE(dst->ok()) << dst->log();
		auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, [&](resync *r) {
			resync_set_checkpoint(r, ck.c_str(), 0, 2 * MiB);
			resync_set_rate_limit(r, 64 * MiB);
			resync_set_progress(
				r,
				[](const resync_stats *st, void *arg) {
					auto *tt = static_cast<Trigger *>(arg);
					if (!tt->made && st->bytes_done >= tt->at) {
						std::ofstream(tt->path) << "on\n";
						tt->made = true;
					}
				},
				&t, 1);
		});
		ASSERT_TRUE(t.made);
		EXPECT_EQ(res.ret, -EIO) << res.error;
		EXPECT_NE(res.error.find("target " + dst->uri() +
					 ": nbd_aio_pwrite (write) at offset "),
			  std::string::npos)
			<< res.error;
		uint64_t left = checkpoint_dirty_bytes(ck);
		EXPECT_LT(left, size);
		unlink(t.path.c_str());
		auto again = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, [&](resync *r) {
			resync_set_checkpoint(r, ck.c_str(), 0, 2 * MiB);
		});
		ASSERT_EQ(again.ret, 0) << again.error;
		EXPECT_EQ(again.st.resumed, 1u);
		EXPECT_EQ(again.st.bytes_planned, left);
		dst->stop();
		ASSERT_EQ(rt::read_file(tgt), data) << "round " << round;
	}
}

// Kills the server (SIGKILL) once the checkpoint file was replaced `after`
// times, or at once when stop is set; the checkpoint's inode changes with
// every save (temporary file, rename).
class Killer {
public:
	Killer(nbdt::Server *srv, std::string ck, int after)
		: th_([=] {
			  ino_t last = ino(ck);
			  for (int seen = 0; !stop_;) {
				  ino_t now = ino(ck);
				  if (now != last && now && ++seen >= after) {
					  killed_ = true;
					  srv->crash();
					  return;
				  }
				  last = now;
				  std::this_thread::sleep_for(std::chrono::milliseconds(1));
			  }
		  })
	{
	}
	~Killer()
	{
		stop_ = true;
		th_.join();
	}
	bool killed() const
	{
		return killed_;
	}

private:
	static ino_t ino(const std::string &p)
	{
		struct stat st;
		return stat(p.c_str(), &st) ? 0 : st.st_ino;
	}
	std::atomic<bool> stop_{ false }, killed_{ false };
	std::thread th_;
};

struct ByteKill {
	nbdt::Server *srv;
	uint64_t at;
	bool killed;
};

// Power loss of a volatile write cache: the target's writes sit in nbdkit's
// cache (writeback) until a flush writes them to the file, and SIGKILL loses
// them.  Each round kills the server at random points of the copy — right
// after a checkpoint was saved, or at a random byte count — restarts it and
// resumes from the same checkpoint until the copy succeeds, then kills it once
// more (the last power loss) before comparing the file.  The rate limit makes
// a copy last a second or more, so the kills land inside it on any machine.
TEST_F(Durability, WritebackCacheKilledAtRandomPointsResumesToIdentical)
{
	std::mt19937_64 rng(std::random_device{}());
	const uint64_t size = 16 * MiB;
	images(rt::random_bytes(size, 64));
	int kills = 0;
	for (int round = 0, n = rt::rounds(5, 50); round < n; round++) {
		rt::write_file(tgt, rt::random_bytes(size, 1000 + round));
		unlink(ck.c_str());
		bool done = false, had_checkpoint = false;
		for (int attempt = 0; !done; attempt++) {
			ASSERT_LT(attempt, 30) << "round " << round;
			// Writeback is slowed (1 ms per cached block) so a flush takes
			// long enough that a checkpoint saved before it would be caught.
			auto dst = nbdt::nbdkit(tmp, "dst",
						{ "--filter=cache", "--filter=delay", "file", tgt,
						  "cache=writeback", "delay-write=1ms" });
			ASSERT_TRUE(dst->ok()) << dst->log();
			bool by_checkpoint = attempt < 8 && rng() % 4;
			ByteKill bk{ dst.get(), attempt < 8 ? rng() % size : UINT64_MAX, false };
			Killer killer(dst.get(), ck,
				      by_checkpoint ? 1 + (int)(rng() % 4) : INT32_MAX);
			auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, [&](resync *r) {
				resync_set_checkpoint(r, ck.c_str(), 0, 2 * MiB);
				resync_set_rate_limit(r, 16 * MiB);
				resync_set_nbd_connections(r, 1 + (unsigned)(rng() % 4));
				if (!by_checkpoint)
					resync_set_progress(
						r,
						[](const resync_stats *st, void *arg) {
							auto *b = static_cast<ByteKill *>(arg);
							if (!b->killed && st->bytes_done >= b->at) {
								b->killed = true;
								b->srv->crash();
							}
						},
						&bk, 1);
			});
			if (had_checkpoint) {
				EXPECT_EQ(res.st.resumed, 1u)
					<< "round " << round << ": " << res.error;
			}
			done = res.ret == 0;
			if (!done) {
				ASSERT_TRUE(killer.killed() || bk.killed) << res.error;
				kills++;
			}
			had_checkpoint = access(ck.c_str(), F_OK) == 0;
			dst->crash();
		}
		ASSERT_EQ(rt::read_file(tgt), data) << "round " << round;
	}
	EXPECT_GT(kills, 0);
}

} // namespace
