// SPDX-License-Identifier: MIT
#include "testutil.h"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rt {

TempDir::TempDir()
{
	char tmpl[] = "/var/tmp/resync-test.XXXXXX";
	if (!mkdtemp(tmpl))
		throw std::runtime_error("mkdtemp failed");
	dir_ = tmpl;
}

TempDir::~TempDir()
{
	sh("rm -rf '" + dir_ + "'");
}

Bytes random_bytes(size_t n, uint64_t seed)
{
	Bytes b(n);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	return b;
}

void write_file(const std::string &path, const Bytes &data)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		throw std::runtime_error("open " + path);
	size_t done = 0;
	while (done < data.size()) {
		ssize_t n = write(fd, data.data() + done, data.size() - done);
		if (n <= 0)
			throw std::runtime_error("write " + path);
		done += (size_t)n;
	}
	close(fd);
}

void sparse_file(const std::string &path, uint64_t size)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size))
		throw std::runtime_error("truncate " + path);
	close(fd);
}

Bytes read_file(const std::string &path)
{
	int fd = open(path.c_str(), O_RDONLY);
	if (fd < 0)
		throw std::runtime_error("open " + path);
	Bytes b;
	uint8_t buf[1 << 16];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		b.insert(b.end(), buf, buf + n);
	close(fd);
	return b;
}

std::string read_text(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

std::vector<std::string> lines(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	for (std::string l; std::getline(in, l);)
		out.push_back(l);
	return out;
}

void pwrite_at(const std::string &path, uint64_t off, const Bytes &data)
{
	int fd = open(path.c_str(), O_WRONLY);
	if (fd < 0 || pwrite(fd, data.data(), data.size(), (off_t)off) != (ssize_t)data.size())
		throw std::runtime_error("pwrite " + path);
	fsync(fd);
	close(fd);
}

uint64_t file_size(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st))
		throw std::runtime_error("stat " + path);
	return (uint64_t)st.st_size;
}

uint64_t allocated_bytes(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st))
		throw std::runtime_error("stat " + path);
	return (uint64_t)st.st_blocks * 512;
}

SilentServer::SilentServer(const std::string &path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0))
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (fd_ < 0 || path.size() >= sizeof addr.sun_path)
		throw std::runtime_error("socket " + path);
	memcpy(addr.sun_path, path.c_str(), path.size());
	if (bind(fd_, (sockaddr *)&addr, sizeof addr) || listen(fd_, 4)) {
		close(fd_);
		throw std::runtime_error("bind/listen " + path);
	}
}

SilentServer::~SilentServer()
{
	close(fd_);
}

int sh(const std::string &cmd, std::string *out)
{
	FILE *p = popen((cmd + " 2>&1").c_str(), "r");
	if (!p)
		return -1;
	std::string text;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		text.append(buf, n);
	int st = pclose(p);
	if (out)
		*out = text;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string sha256(const std::string &path)
{
	std::string out;
	sh("sha256sum < '" + path + "' | cut -d' ' -f1", &out);
	return out;
}

LoopDevice::LoopDevice(const std::string &file)
{
	// Another process may take the free device losetup found: try again.
	for (int attempt = 0; attempt < 10 && dev_.empty(); attempt++) {
		std::string out;
		// Only stdout: losetup warns on stderr about sizes not a multiple of 512.
		if (sh("(losetup --find --show '" + file + "' 2>/dev/null)", &out) == 0 &&
		    out.rfind("/dev/", 0) == 0)
			dev_ = out.substr(0, out.find('\n'));
		else
			usleep(100000);
	}
}

LoopDevice::~LoopDevice()
{
	if (!dev_.empty())
		sh("losetup -d " + dev_);
}

std::string bin_dir()
{
	const char *b = getenv("RESYNC_BIN");
	return b ? b : "build/bin";
}

} // namespace rt
