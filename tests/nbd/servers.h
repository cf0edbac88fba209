// SPDX-License-Identifier: MIT
// The NBD suite's helpers: the servers (tests/support/nbd_servers.h) and a
// run of the engine between two endpoints.
#pragma once

#include "nbd_servers.h"
#include <functional>
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

} // namespace nbdt
