// SPDX-License-Identifier: MIT
// Helpers shared by the Google Test suites: temporary directories, files of
// known content, commands, loop devices.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

using Bytes = std::vector<uint8_t>;

// A directory under /var/tmp (a real disk file system, so O_DIRECT and holes
// behave as on a target), removed with everything in it.
class TempDir {
public:
	TempDir();
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	std::string path(const std::string &name) const
	{
		return dir_ + "/" + name;
	}
	const std::string &dir() const
	{
		return dir_;
	}

private:
	std::string dir_;
};

// Deterministic pseudo-random bytes.
Bytes random_bytes(size_t n, uint64_t seed);
void write_file(const std::string &path, const Bytes &data);
// A file of `size` bytes whose content is all holes.
void sparse_file(const std::string &path, uint64_t size);
Bytes read_file(const std::string &path);
// A file's text; "" when it cannot be read (a /proc file of a process that
// is gone, a log not yet written).
std::string read_text(const std::string &path);
// text's lines, without their newlines.
std::vector<std::string> lines(const std::string &text);
void pwrite_at(const std::string &path, uint64_t off, const Bytes &data);
uint64_t file_size(const std::string &path);
// Bytes of the file that are allocated (st_blocks * 512).
uint64_t allocated_bytes(const std::string &path);
// Runs a shell command; returns its exit status, output in *out if given.
int sh(const std::string &cmd, std::string *out = nullptr);
std::string sha256(const std::string &path);

// A loop device over a file, detached on destruction.
class LoopDevice {
public:
	explicit LoopDevice(const std::string &file);
	~LoopDevice();
	LoopDevice(const LoopDevice &) = delete;
	LoopDevice &operator=(const LoopDevice &) = delete;
	bool ok() const
	{
		return !dev_.empty();
	}
	const std::string &dev() const
	{
		return dev_;
	}

private:
	std::string dev_;
};

// A Unix socket that accepts connections into its backlog and never says a
// word: an NBD server that hangs in the handshake.  Closed on destruction.
class SilentServer {
public:
	explicit SilentServer(const std::string &path);
	~SilentServer();
	SilentServer(const SilentServer &) = delete;
	SilentServer &operator=(const SilentServer &) = delete;
	int fd() const
	{
		return fd_;
	}

private:
	int fd_;
};

// The directory of the built binaries (B/bin), from $RESYNC_BIN or ./build/bin.
std::string bin_dir();

} // namespace rt
