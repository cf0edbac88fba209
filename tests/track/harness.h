// SPDX-License-Identifier: MIT
// The tracking filter's test harness: nbdkit with the built filter in front
// of the file plugin, a libnbd client, and the tracking log read back through
// the engine's own reader.  Under SANITIZE=1 the filter is built with ASan,
// which nbdkit (not built with it) loads only with the runtime preloaded:
// the harness preloads it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include "testutil.h"

extern "C" {
#include "track_log.h"
}

namespace trk {

std::string filter_path();
std::string shim_path();

class Nbdkit {
public:
	// nbdkit -f --filter=FILTER file DISK bitmap=BITMAP args...; env holds
	// extra NAME=VALUE settings (LD_PRELOAD of the shim comes after ASan's).
	Nbdkit(const rt::TempDir &dir, const std::string &disk, const std::string &bitmap,
	       const std::vector<std::string> &args = {}, const std::vector<std::string> &env = {});
	~Nbdkit();
	Nbdkit(const Nbdkit &) = delete;
	Nbdkit &operator=(const Nbdkit &) = delete;

	// Serving (socket present, process alive).
	bool ok() const
	{
		return ready_;
	}
	// The exit status when it refused to start or was stopped, else -1.
	int status() const
	{
		return status_;
	}
	std::string log() const;
	std::string uri() const
	{
		return "nbd+unix:///?socket=" + sock_;
	}
	const std::string &socket() const
	{
		return sock_;
	}
	bool alive();
	void kill9();
	// SIGTERM and wait: the filter's clean shutdown.  Returns the exit status.
	int stop();

private:
	std::string sock_, logfile_;
	int pid_ = -1;
	int status_ = -1;
	bool ready_ = false;
};

// The log read with the format code; returns 0 or a negative errno, why in *why.
int read_log(const std::string &path, struct rc_track *t, std::string *why = nullptr);
// The log read as the engine reads it (resync_bitmap_load): set blocks.
std::vector<bool> engine_bits(const std::string &path, uint64_t granularity,
			      std::string *why = nullptr);

} // namespace trk
