// SPDX-License-Identifier: MIT
// The NBD suite's helpers: the servers (tests/support/nbd_servers.h) and a
// run of the engine between two endpoints.
#pragma once

#include "nbd_servers.h"
#include <functional>
#include <gtest/gtest.h>
#include <resync/resync.h>
#include "engine_util.h"

namespace nbdt {

using Result = RunResult;

// Runs the engine from src to dst in mode (arg: bitmap name or file); `more`
// sets anything else on the handle first.
inline Result copy(const std::string &src, const std::string &dst, resync_mode mode = RESYNC_FULL,
		   const char *arg = nullptr, std::function<void(resync *)> more = nullptr)
{
	return run_engine(src, dst, mode, arg, 0, std::move(more));
}

// nbdkit's eval plugin serving the file `file` (read and written with dd),
// its flush the shell script `flush`: a disk whose cache flush fails as
// the test decides.
inline std::unique_ptr<Server> nbdkit_flaky_flush(const rt::TempDir &dir, const std::string &name,
						  const std::string &file, const std::string &flush)
{
	return nbdkit(dir, name,
		      { "eval", "get_size=stat -c %s " + file,
			"pread=dd if=" + file +
				" skip=$4 count=$3 iflag=skip_bytes,count_bytes status=none",
			"pwrite=dd of=" + file +
				" seek=$4 oflag=seek_bytes conv=notrunc status=none",
			"can_write=exit 0", "can_flush=exit 0", "flush=" + flush });
}

// A test's images in its temp dir: the source file src holding data, the
// target file tgt, and the path of the copy's checkpoint ck.
class Images : public ::testing::Test {
protected:
	// The source holds d; the target old, when given (a test that
	// rewrites it per round writes it itself).
	void images(rt::Bytes d, const rt::Bytes &old = {})
	{
		data = std::move(d);
		rt::write_file(src, data);
		if (!old.empty())
			rt::write_file(tgt, old);
	}
	rt::TempDir tmp;
	rt::Bytes data;
	std::string src = tmp.path("src.img"), tgt = tmp.path("tgt.img"), ck = tmp.path("ck");
};

// Two files served by nbdkit, each through the log filter (which logs every
// connection and request that arrives), the source read-only.  The test
// writes s_ and d_, then calls serve() (a fresh log each time).
class LoggedPair : public ::testing::Test {
protected:
	void serve()
	{
		src_ = nbdkit(tmp_, "src",
			      { "-r", "--filter=log", "file", s_, "logfile=" + slog_ });
		dst_ = nbdkit(tmp_, "dst", { "--filter=log", "file", d_, "logfile=" + dlog_ });
		ASSERT_TRUE(src_->ok()) << src_->log();
		ASSERT_TRUE(dst_->ok()) << dst_->log();
	}
	rt::TempDir tmp_;
	std::string s_ = tmp_.path("src.img"), d_ = tmp_.path("dst.img");
	std::string slog_ = tmp_.path("src.log"), dlog_ = tmp_.path("dst.log");
	std::unique_ptr<Server> src_, dst_;
};

} // namespace nbdt
