// SPDX-License-Identifier: MIT
// The target's write path (resync_set_write_mode(), --write-mode): buffered
// writes under a sync_file_range writeback window copy byte for byte, keep
// the target's dirty and under-writeback pages, and its cached pages, within
// the documented bound (read with cachestat(2) from the progress callback
// and after the run), keep every durability
// rule (the flush-log and failing-flush shims), and are chosen and reported
// as documented: AUTO is O_DIRECT where the target takes it, buffered where
// O_DIRECT is refused (ramfs); DIRECT refuses a target without it.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <resync/resync.h>
#include "durability_checks.h"
#include "testutil.h"

namespace {

constexpr uint64_t KiB = 1024, MiB = 1 << 20;

struct Outcome {
	int ret;
	uint32_t request;
	unsigned depth;
	resync_write_mode write;
	std::string why, error;
	uint64_t max_dirty = 0;  // pages of the target dirty or under writeback, at most
	uint64_t max_cached = 0; // pages of the target in the page cache, at most
	uint64_t cached_after = 0;
	unsigned samples = 0;
};

// cachestat(2) (Linux 6.5), not yet in the C library's headers.
struct cachestat_range {
	uint64_t off, len;
};
struct cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

struct Sampler {
	int fd;
	Outcome *o;
};

bool stat_cache(int fd, cachestat *cs)
{
	cachestat_range rg{ 0, 0 };
	return syscall(__NR_cachestat, fd, &rg, cs, 0) == 0;
}

void sample(const resync_stats *, void *arg)
{
	auto *s = static_cast<Sampler *>(arg);
	cachestat cs{};
	if (!stat_cache(s->fd, &cs))
		return;
	s->o->max_dirty = std::max<uint64_t>(s->o->max_dirty, cs.nr_dirty + cs.nr_writeback);
	s->o->max_cached = std::max<uint64_t>(s->o->max_cached, cs.nr_cache);
	s->o->samples++;
}

Outcome run_copy(const std::string &s, const std::string &d, resync_write_mode mode,
		 uint32_t request = 0, unsigned depth = 0, bool watch = false)
{
	resync *r = resync_new();
	Outcome o{};
	EXPECT_EQ(resync_set_source(r, s.c_str()), 0);
	EXPECT_EQ(resync_set_target(r, d.c_str()), 0);
	EXPECT_EQ(resync_set_mode(r, RESYNC_FULL, nullptr), 0);
	EXPECT_EQ(resync_set_write_mode(r, mode), 0);
	if (request) {
		EXPECT_EQ(resync_set_request_size(r, request), 0);
	}
	if (depth) {
		EXPECT_EQ(resync_set_queue_depth(r, depth), 0);
	}
	Sampler smp{ watch ? open(d.c_str(), O_RDONLY | O_CLOEXEC) : -1, &o };
	if (watch) {
		EXPECT_EQ(resync_set_progress(r, sample, &smp, 1), 0);
	}
	o.ret = resync_run(r);
	o.error = resync_error(r);
	o.why = resync_io_choice(r, &o.request, &o.depth, &o.write);
	resync_free(r);
	if (smp.fd >= 0) {
		cachestat cs{};
		if (stat_cache(smp.fd, &cs))
			o.cached_after = cs.nr_cache;
		close(smp.fd);
	}
	return o;
}

TEST(WriteMode, SetterRefusesAnUnknownMode)
{
	resync *r = resync_new();
	EXPECT_EQ(resync_set_write_mode(r, static_cast<resync_write_mode>(3)), -EINVAL);
	EXPECT_EQ(resync_set_write_mode(r, RESYNC_WRITE_BUFFERED), 0);
	uint32_t req = 1;
	unsigned depth = 1;
	resync_write_mode w = RESYNC_WRITE_DIRECT;
	EXPECT_STREQ(resync_io_choice(r, &req, &depth, &w), "");
	EXPECT_EQ(w, RESYNC_WRITE_AUTO);
	resync_free(r);
}

TEST(WriteMode, AutoWritesWithODirectWhereTheTargetTakesIt)
{
	rt::TempDir tmp;
	rt::Bytes src = rt::random_bytes(8 * MiB, 71);
	rt::write_file(tmp.path("s"), src);
	rt::write_file(tmp.path("d"), rt::random_bytes(8 * MiB, 72));
	Outcome o = run_copy(tmp.path("s"), tmp.path("d"), RESYNC_WRITE_AUTO);
	ASSERT_EQ(o.ret, 0) << o.error;
	EXPECT_EQ(o.write, RESYNC_WRITE_DIRECT) << o.why;
	EXPECT_NE(o.why.find("target written with O_DIRECT"), std::string::npos) << o.why;
	EXPECT_TRUE(rt::read_file(tmp.path("d")) == src);
}

// ramfs refuses O_DIRECT: AUTO writes buffered under the window and says
// why; DIRECT fails before anything is written.
TEST(WriteMode, AutoIsBufferedWhereODirectIsRefusedAndDirectFails)
{
	rt::TempDir tmp;
	std::string dir = tmp.path("ramfs");
	ASSERT_EQ(rt::sh("mkdir " + dir + " && mount -t ramfs none " + dir), 0);
	rt::Bytes src = rt::random_bytes(4 * MiB, 73), old = rt::random_bytes(4 * MiB, 74);
	rt::write_file(dir + "/s", src);
	rt::write_file(dir + "/d", old);
	Outcome direct = run_copy(dir + "/s", dir + "/d", RESYNC_WRITE_DIRECT);
	rt::Bytes after_direct = rt::read_file(dir + "/d");
	Outcome o = run_copy(dir + "/s", dir + "/d", RESYNC_WRITE_AUTO, 0, 4);
	rt::Bytes out = rt::read_file(dir + "/d");
	EXPECT_EQ(rt::sh("umount " + dir), 0);
	EXPECT_EQ(direct.ret, -EINVAL);
	EXPECT_EQ(direct.error,
		  "target " + dir + "/d: O_DIRECT refused, but direct writes were asked for");
	EXPECT_TRUE(after_direct == old) << "the refused run wrote";
	ASSERT_EQ(o.ret, 0) << o.error;
	EXPECT_EQ(o.write, RESYNC_WRITE_BUFFERED) << o.why;
	EXPECT_NE(o.why.find("target written buffered (O_DIRECT refused) with a writeback "
			     "window of 4096 KiB"),
		  std::string::npos)
		<< o.why;
	EXPECT_TRUE(out == src);
}

// Forced buffered writes of 128 MiB in 256 KiB requests, 4 in flight: the
// window is 1 MiB, so at no sample may more than 1 MiB + 2 x 4 x 256 KiB
// (3 MiB, 768 pages) of the target be dirty or under writeback, nor be in
// the page cache at all, during the run or after it.  Without the window
// the whole copy could be dirty until the final flush (the kernel's
// background threshold here is far above 3 MiB); without the drop all
// 128 MiB stay cached.
TEST(WriteMode, BufferedKeepsDirtyPagesWithinTheWindow)
{
	rt::TempDir tmp;
	rt::Bytes src = rt::random_bytes(128 * MiB, 75);
	rt::write_file(tmp.path("s"), src);
	rt::sparse_file(tmp.path("d"), 128 * MiB);
	Outcome o =
		run_copy(tmp.path("s"), tmp.path("d"), RESYNC_WRITE_BUFFERED, 256 * KiB, 4, true);
	ASSERT_EQ(o.ret, 0) << o.error;
	EXPECT_EQ(o.write, RESYNC_WRITE_BUFFERED);
	EXPECT_NE(o.why.find("target written buffered (as set) with a writeback window of "
			     "1024 KiB"),
		  std::string::npos)
		<< o.why;
	ASSERT_GT(o.samples, 0u) << "cachestat(2) answered no sample";
	long page = sysconf(_SC_PAGESIZE);
	EXPECT_LE(o.max_dirty * (uint64_t)page, 3 * MiB)
		<< "pages dirty or under writeback at most: " << o.max_dirty;
	EXPECT_LE(o.max_cached * (uint64_t)page, 3 * MiB)
		<< "pages of the target cached at most: " << o.max_cached;
	EXPECT_LE(o.cached_after * (uint64_t)page, 3 * MiB)
		<< "pages of the target cached after the run: " << o.cached_after;
	EXPECT_TRUE(rt::read_file(tmp.path("d")) == src);
}

// The durability rule holds with buffered writes: every checkpoint after
// the first follows an fdatasync of the target, and the run flushes before
// removing its checkpoint (the flush-log shim, as in durability_test.cc).
TEST(WriteMode, BufferedCheckpointsFollowTargetFlushes)
{
	durability::expect_checkpoints_follow_flushes(76, 77, " --write-mode buffered -v",
						      "target written buffered (as set)");
}

// A failing checkpoint flush with buffered writes: the copy fails naming the
// flush, and the checkpoint still plans every block that differs.
TEST(WriteMode, BufferedFailingFlushRetiresNothingItCovered)
{
	durability::expect_failing_flush_retires_nothing(78, 79, " --write-mode buffered");
}

} // namespace
