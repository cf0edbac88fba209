// SPDX-License-Identifier: MIT
// The durability checks of the resync tool under the LD_PRELOAD shims
// (tests/shim/flushlog.so, flush_fail.so), shared by the suites that hold
// each write path to them (durability_test.cc, writemode_test.cc): one copy
// of each check, run with the caller's extra resync arguments.
#pragma once

#include <gtest/gtest.h>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include <unistd.h>
#include <resync/resync.h>
#include "testutil.h"

namespace durability {

constexpr uint64_t MiB = 1 << 20, Blk = 64 * 1024;

inline std::string real(const std::string &p)
{
	char buf[PATH_MAX];
	return realpath(p.c_str(), buf) ? buf : p;
}

// The blocks (of Blk) where a and b differ.
inline std::vector<uint64_t> differing(const rt::Bytes &a, const rt::Bytes &b)
{
	std::vector<uint64_t> out;
	for (uint64_t off = 0; off < a.size(); off += Blk) {
		uint64_t n = std::min<uint64_t>(Blk, a.size() - off);
		if (memcmp(a.data() + off, b.data() + off, n))
			out.push_back(off / Blk);
	}
	return out;
}

// Every block that differs must still be planned in the checkpoint: a
// block retired without its data on the target is lost for good.
inline void expect_planned(const std::string &ck, const std::vector<uint64_t> &blocks)
{
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_load(&b, ck.c_str()), 0) << "no readable checkpoint at " << ck;
	ASSERT_EQ(resync_bitmap_granularity(b), Blk);
	std::vector<bool> planned(resync_bitmap_device_size(b) / Blk + 1);
	uint64_t off = 0, len;
	while (resync_bitmap_next(b, &off, &len) == 1) {
		for (uint64_t x = off; x < off + len; x += Blk)
			planned[x / Blk] = true;
		off += len;
	}
	resync_bitmap_free(b);
	for (uint64_t blk : blocks)
		EXPECT_TRUE(planned[blk])
			<< "block " << blk << " differs on the target but was retired";
}

// Copies 8 MiB (seeds sseed, dseed) with a checkpoint every MiB and `extra`
// resync arguments under the flush-log shim.  Every checkpoint after the
// first (saved before any write) follows a flush of the target, and the run
// flushes the target after its last checkpoint before removing it.  The
// tool's output must hold `says` (when not empty).
inline void expect_checkpoints_follow_flushes(unsigned sseed, unsigned dseed,
					      const std::string &extra, const std::string &says)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d"), ck = tmp.path("ck"),
		    log = tmp.path("log");
	rt::write_file(s, rt::random_bytes(8 * MiB, sseed));
	rt::write_file(d, rt::random_bytes(8 * MiB, dseed));
	std::string so = rt::bin_dir() + "/../tests/shim/flushlog.so";
	ASSERT_EQ(access(so.c_str(), R_OK), 0) << so << " is not built (make all)";
	std::string out;
	ASSERT_EQ(rt::sh("RESYNC_SHIM_LOG='" + log + "' LD_PRELOAD='" + so +
				 "' ASAN_OPTIONS=verify_asan_link_order=0 '" + rt::bin_dir() +
				 "/resync' copy '" + s + "' '" + d + "' --checkpoint '" + ck +
				 "' --checkpoint-interval 0 --checkpoint-bytes 1M --queue-depth 2" +
				 extra + " 2>&1",
			 &out),
		  0)
		<< out;
	if (!says.empty()) {
		EXPECT_NE(out.find(says), std::string::npos) << out;
	}
	EXPECT_TRUE(rt::read_file(d) == rt::read_file(s));

	std::string target = real(d), ckpt = real(ck);
	std::ifstream in(log);
	std::string op, a, b, line;
	int renames = 0;
	bool flushed_since_rename = false, removed = false;
	while (std::getline(in, line)) {
		std::istringstream ls(line);
		ls >> op >> a;
		b.clear();
		ls >> b;
		if ((op == "fdatasync" || op == "fsync") && a == target) {
			flushed_since_rename = true;
		} else if (op == "rename" && b == ckpt) {
			EXPECT_FALSE(removed);
			if (renames++) {
				EXPECT_TRUE(flushed_since_rename)
					<< "checkpoint " << renames
					<< " was saved without a flush of the "
					<< "target before it";
			}
			flushed_since_rename = false;
		} else if (op == "unlink" && a == ckpt) {
			EXPECT_TRUE(flushed_since_rename)
				<< "the run removed its checkpoint without flushing the target after it";
			removed = true;
		}
	}
	EXPECT_GE(renames, 3) << "expected the first checkpoint and at least two more";
	EXPECT_TRUE(removed) << "the finished run did not remove its checkpoint";
}

// Copies 32 MiB (seeds sseed, dseed) with a checkpoint every MiB and `extra`
// resync arguments under the failing-flush shim: two flushes of the target
// succeed (each flush syncs both of its descriptors), the second
// checkpoint's fails (the disk reports EIO from its cache flush).  The copy
// fails naming the flush, and the checkpoint on disk still plans every
// block that differs: nothing the failed flush was to cover was retired.
inline void expect_failing_flush_retires_nothing(unsigned sseed, unsigned dseed,
						 const std::string &extra)
{
	rt::TempDir tmp;
	std::string s = tmp.path("s"), d = tmp.path("d"), ck = tmp.path("ck");
	rt::Bytes src = rt::random_bytes(32 * MiB, sseed);
	rt::write_file(s, src);
	rt::write_file(d, rt::random_bytes(32 * MiB, dseed));
	std::string so = rt::bin_dir() + "/../tests/shim/flush_fail.so";
	ASSERT_EQ(access(so.c_str(), R_OK), 0) << so << " is not built (make all)";
	std::string out;
	int rc = rt::sh("RESYNC_SHIM_FLUSH_FAIL='" + real(d) +
				"' RESYNC_SHIM_FLUSH_OK=2 LD_PRELOAD='" + so +
				"' ASAN_OPTIONS=verify_asan_link_order=0 '" + rt::bin_dir() +
				"/resync' copy '" + s + "' '" + d + "' --checkpoint '" + ck +
				"' --checkpoint-interval 0 --checkpoint-bytes 1M --queue-depth 8" +
				extra + " 2>&1",
			&out);
	EXPECT_NE(rc, 0) << out;
	EXPECT_NE(out.find("target " + d + ": flush: Input/output error"), std::string::npos)
		<< out;
	expect_planned(ck, differing(src, rt::read_file(d)));
}

} // namespace durability
