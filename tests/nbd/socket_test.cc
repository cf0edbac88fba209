// SPDX-License-Identifier: MIT
// The engine's NBD sockets (engine/ep_nbd_open.c): a Unix socket's send
// buffer is widened to hold two whole requests of the size the engine
// offers, capped by the kernel at net.core.wmem_max, so a request leaves in
// one send instead of a piece per 208 KiB.  Read from the copy's own
// process: the test runs the engine in-process, so the sockets it holds
// while copying are this process's.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>
#include "servers.h"

namespace {

constexpr uint64_t MiB = 1 << 20;

// The send buffers of this process's Unix sockets connected to path now.
std::vector<int> unix_send_buffers(const std::string &path)
{
	std::vector<int> out;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return out;
	while (dirent *e = readdir(d)) {
		int fd = atoi(e->d_name);
		struct stat st;
		sockaddr_storage sa{};
		socklen_t len = sizeof sa;
		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) ||
		    !S_ISSOCK(st.st_mode) ||
		    getpeername(fd, reinterpret_cast<sockaddr *>(&sa), &len) ||
		    sa.ss_family != AF_UNIX ||
		    path != reinterpret_cast<const sockaddr_un *>(&sa)->sun_path)
			continue;
		int v = 0;
		socklen_t vl = sizeof v;
		if (!getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &vl))
			out.push_back(v);
	}
	closedir(d);
	return out;
}

struct Seen {
	std::string path;
	std::vector<int> buffers;
};

// Four connections to nbdkit over its Unix socket: while the copy runs,
// every socket's send buffer is what the engine asked for, doubled by the
// kernel for its bookkeeping: 2 x min(2 x (512 KiB + 4 KiB), wmem_max).
TEST(NbdSocket, UnixSendBufferHoldsTwoRequests)
{
	rt::TempDir tmp;
	rt::Bytes src = rt::random_bytes(16 * MiB, 91);
	rt::write_file(tmp.path("s"), src);
	rt::write_file(tmp.path("d"), rt::Bytes(16 * MiB, 0));
	auto dst = nbdt::nbdkit(tmp, "d", { "file", tmp.path("d") });
	ASSERT_TRUE(dst->ok()) << dst->log();
	Seen seen{ dst->socket(), {} };
	auto res = nbdt::copy(tmp.path("s"), dst->uri(), RESYNC_FULL, nullptr, [&](resync *r) {
		resync_set_nbd_connections(r, 4);
		resync_set_request_size(r, 64 << 10);
		resync_set_queue_depth(r, 4);
		resync_set_progress(
			r,
			[](const resync_stats *, void *arg) {
				auto *s = static_cast<Seen *>(arg);
				if (s->buffers.empty())
					s->buffers = unix_send_buffers(s->path);
			},
			&seen, 1);
	});
	ASSERT_EQ(res.ret, 0) << res.error;
	long wmem_max = 0;
	std::ifstream("/proc/sys/net/core/wmem_max") >> wmem_max;
	ASSERT_GT(wmem_max, 0);
	const int want = 2 * (int)std::min<long>(2 * ((512 << 10) + 4096), wmem_max);
	ASSERT_EQ(seen.buffers.size(), 4u) << "the copy's Unix sockets were not all seen";
	for (int v : seen.buffers)
		EXPECT_EQ(v, want);
	EXPECT_TRUE(rt::read_file(tmp.path("d")) == src);
}

} // namespace
