// SPDX-License-Identifier: MIT
// The sparse-file helpers of sparse.h.
#include "sparse.h"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rt {

namespace {

struct Fd {
	int fd;
	explicit Fd(const std::string &path) : fd(open(path.c_str(), O_RDONLY))
	{
		if (fd < 0)
			throw std::runtime_error("open " + path + ": " + strerror(errno));
	}
	~Fd()
	{
		close(fd);
	}
	uint64_t size() const
	{
		struct stat st;
		if (fstat(fd, &st))
			throw std::runtime_error(std::string("fstat: ") + strerror(errno));
		return (uint64_t)st.st_size;
	}
};

std::vector<std::pair<uint64_t, uint64_t>> extents_of(const Fd &f)
{
	std::vector<std::pair<uint64_t, uint64_t>> out;
	uint64_t size = f.size();
	off_t pos = 0;
	while ((uint64_t)pos < size) {
		off_t data = lseek(f.fd, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			throw std::runtime_error(std::string("SEEK_DATA: ") + strerror(errno));
		off_t hole = lseek(f.fd, data, SEEK_HOLE);
		if (hole < 0)
			throw std::runtime_error(std::string("SEEK_HOLE: ") + strerror(errno));
		out.emplace_back((uint64_t)data, (uint64_t)(hole - data));
		pos = hole;
	}
	return out;
}

void pread_all(int fd, char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			throw std::runtime_error(std::string("pread: ") +
						 (n ? strerror(errno) : "end of file"));
		buf += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
}

} // namespace

std::vector<std::pair<uint64_t, uint64_t>> data_extents(const std::string &path)
{
	return extents_of(Fd(path));
}

uint64_t first_difference(const std::string &a, const std::string &b)
{
	Fd fa(a), fb(b);
	uint64_t size = std::min(fa.size(), fb.size());
	// Where either holds data; elsewhere both read as zeroes.
	auto ranges = extents_of(fa), more = extents_of(fb);
	ranges.insert(ranges.end(), more.begin(), more.end());
	std::sort(ranges.begin(), ranges.end());
	std::vector<char> ba(1 << 20), bb(1 << 20);
	uint64_t done = 0;
	for (auto [off, len] : ranges) {
		uint64_t end = std::min(off + len, size);
		for (off = std::max(off, done); off < end;) {
			size_t n = (size_t)std::min<uint64_t>(ba.size(), end - off);
			pread_all(fa.fd, ba.data(), n, off);
			pread_all(fb.fd, bb.data(), n, off);
			for (size_t i = 0; i < n; i++)
				if (ba[i] != bb[i])
					return off + i;
			off += n;
		}
		done = std::max(done, end);
	}
	return fa.size() == fb.size() ? UINT64_MAX : size;
}

uint64_t peak_rss_kib(const std::vector<std::string> &argv, int *status)
{
	std::vector<char *> args;
	for (const auto &s : argv)
		args.push_back(const_cast<char *>(s.c_str()));
	args.push_back(nullptr);
	pid_t pid = fork();
	if (pid < 0)
		throw std::runtime_error(std::string("fork: ") + strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execv(args[0], args.data());
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			throw std::runtime_error(std::string("wait4: ") + strerror(errno));
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return (uint64_t)ru.ru_maxrss;
}

} // namespace rt
