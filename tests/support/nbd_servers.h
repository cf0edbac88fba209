// SPDX-License-Identifier: MIT
// NBD servers for the tests: nbdkit and qemu-nbd on unix sockets in a test's
// temporary directory, started in the foreground as children (dying with the
// test process) and stopped by the destructor.  In tests/support/: the
// suites for common/ start servers too.
#pragma once

#include <memory>
#include <string>
#include <vector>
#include "testutil.h"

namespace nbdt {

class Server {
public:
	// Runs argv with "{sock}" and "{pid}" replaced by paths in dir, and
	// waits until the server has written its pid file and created its socket.
	Server(const rt::TempDir &dir, const std::string &name, std::vector<std::string> argv);
	~Server();
	Server(const Server &) = delete;
	Server &operator=(const Server &) = delete;

	bool ok() const
	{
		return ready_;
	}
	// How the server failed to start, for the test's message.
	const std::string &log() const
	{
		return log_text_;
	}
	const std::string &socket() const
	{
		return sock_;
	}
	// nbd+unix:///EXPORT?socket=... (nbds+unix with tls).
	std::string uri(const std::string &exp = "", bool tls = false) const;
	void stop();
	// SIGKILL: the server vanishes mid-conversation.
	void crash();
	// The server's process, for SIGSTOP/SIGCONT.
	int pid() const
	{
		return pid_;
	}

private:
	std::string sock_, pidfile_, logfile_, log_text_;
	int pid_ = -1;
	bool ready_ = false;
};

// nbdkit [args...]: plugin, its parameters, --filter=..., -r, --tls=... .
std::unique_ptr<Server> nbdkit(const rt::TempDir &dir, const std::string &name,
			       const std::vector<std::string> &args);
// qemu-nbd [args...] IMAGE, persistent (-t), serving one export named "".
std::unique_ptr<Server> qemu_nbd(const rt::TempDir &dir, const std::string &name,
				 const std::vector<std::string> &args);

// Reads a whole export into bytes (through nbdcopy).
rt::Bytes read_export(const std::string &uri);
// Runs a command given as words (no shell); returns the exit status.
int run(const std::vector<std::string> &argv, std::string *out = nullptr);

} // namespace nbdt
