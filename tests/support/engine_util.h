// SPDX-License-Identifier: MIT
// Running the engine from tests: one call, the outcome in one struct.
#pragma once

#include <functional>
#include <string>
#include <resync/resync.h>

struct RunResult {
	int ret;
	resync_stats st;
	std::string error;
	uint64_t error_offset;
};

// Configures a handle for src -> dst in mode (arg for extents/bitmap), lets
// `more` set anything else, and runs it.
inline RunResult run_engine(const std::string &src, const std::string &dst,
			    resync_mode mode = RESYNC_FULL, const char *arg = nullptr,
			    uint64_t flags = 0, std::function<void(resync *)> more = nullptr)
{
	resync *r = resync_new();
	RunResult res{};
	if (resync_set_source(r, src.c_str()) || resync_set_target(r, dst.c_str()) ||
	    resync_set_mode(r, mode, arg) || resync_set_flags(r, flags)) {
		resync_free(r);
		res.ret = -9999;
		return res;
	}
	if (more)
		more(r);
	res.ret = resync_run(r);
	resync_get_stats(r, &res.st);
	res.error = resync_error(r);
	res.error_offset = resync_error_offset(r);
	resync_free(r);
	return res;
}
