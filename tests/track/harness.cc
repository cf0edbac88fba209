// SPDX-License-Identifier: MIT
#include "harness.h"
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <cstring>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <resync/resync.h>

namespace trk {

std::string filter_path()
{
	return rt::bin_dir() + "/../lib/nbdkit-resync-track-filter.so";
}

std::string shim_path()
{
	return rt::bin_dir() + "/../tests/shim/track_fault.so";
}

namespace {

// The sanitizer runtime nbdkit must preload when this build is sanitized.
std::string asan_runtime()
{
#if defined(__SANITIZE_ADDRESS__)
	std::string out;
	if (rt::sh("cc -print-file-name=libasan.so", &out) == 0) {
		while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
			out.pop_back();
		return out;
	}
#endif
	return "";
}

// The server greets a client with NBD's magic (the socket listens before
// the filter has checked anything; the greeting comes after).
bool accepts(const std::string &path)
{
	struct sockaddr_un a = {};
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	struct pollfd p = { fd, POLLIN, 0 };
	char magic[8];
	ok = ok && poll(&p, 1, 100) == 1 && recv(fd, magic, sizeof magic, MSG_WAITALL) == 8 &&
	     memcmp(magic, "NBDMAGIC", 8) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

} // namespace

Nbdkit::Nbdkit(const rt::TempDir &dir, const std::string &disk, const std::string &bitmap,
	       const std::vector<std::string> &args, const std::vector<std::string> &env)
	: sock_(dir.path("nbdkit.sock")), logfile_(dir.path("nbdkit.log"))
{
	std::vector<std::string> argv = { "nbdkit", "-f",  "--exit-with-parent",
					  "-U",     sock_, "--filter=" + filter_path(),
					  "file",   disk,  "bitmap=" + bitmap };
	argv.insert(argv.end(), args.begin(), args.end());
	std::vector<std::string> envs = env;
	std::string preload = asan_runtime();
	for (auto it = envs.begin(); it != envs.end(); ++it)
		if (it->rfind("LD_PRELOAD=", 0) == 0) {
			preload += (preload.empty() ? "" : " ") + it->substr(11);
			envs.erase(it);
			break;
		}
	if (!preload.empty()) {
		envs.push_back("LD_PRELOAD=" + preload);
		// nbdkit's own allocations are not ours to judge.
		envs.push_back("ASAN_OPTIONS=detect_leaks=0");
	}
	unlink(sock_.c_str());
	pid_t parent = getpid();
	pid_ = fork();
	if (pid_ == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(logfile_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		for (const auto &e : envs)
			putenv(const_cast<char *>(e.c_str()));
		std::vector<char *> a;
		for (const auto &s : argv)
			a.push_back(const_cast<char *>(s.c_str()));
		a.push_back(nullptr);
		execvp(a[0], a.data());
		_exit(127);
	}
	// Ready when the server greets a client, which it does only once the
	// filter's after_fork (the disk size check) succeeded; refused when the
	// process exits, or under ASan when it logged its error and then hangs
	// in exit (see stop()).  A generous bound: the test machine is shared.
	for (int i = 0; i < 3000 && pid_ > 0; i++) {
		int st;
		if (waitpid(pid_, &st, WNOHANG) == pid_) {
			status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			pid_ = -1;
			return;
		}
		if (accepts(sock_)) {
			ready_ = true;
			return;
		}
		if (!asan_runtime().empty() &&
		    log().find("refusing to start") != std::string::npos && i > 200) {
			kill(pid_, SIGKILL);
			waitpid(pid_, &st, 0);
			status_ = 1;
			pid_ = -1;
			return;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

Nbdkit::~Nbdkit()
{
	if (pid_ > 0)
		kill9();
}

std::string Nbdkit::log() const
{
	std::ifstream f(logfile_);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

bool Nbdkit::alive()
{
	int st;
	if (pid_ > 0 && waitpid(pid_, &st, WNOHANG) == pid_) {
		status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		pid_ = -1;
	}
	return pid_ > 0;
}

void Nbdkit::kill9()
{
	if (pid_ <= 0)
		return;
	kill(pid_, SIGKILL);
	int st;
	waitpid(pid_, &st, 0);
	status_ = 128 + SIGKILL;
	pid_ = -1;
}

int Nbdkit::stop()
{
	if (pid_ <= 0)
		return status_;
	kill(pid_, SIGTERM);
	int st;
	// With libasan preloaded, nbdkit's exit can hang in libp11-kit's
	// destructor (freelocale waits for a lock no thread holds any more),
	// after the filter's cleanup has run: a bounded wait, then SIGKILL,
	// counted as the clean exit it was.  Without ASan: wait as long as it takes.
	bool asan = !asan_runtime().empty();
	for (int i = 0; asan && i < 1000; i++) {
		if (waitpid(pid_, &st, WNOHANG) == pid_) {
			status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			pid_ = -1;
			return status_;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	if (asan) {
		kill(pid_, SIGKILL);
		waitpid(pid_, &st, 0);
		pid_ = -1;
		return status_ = 0;
	}
	waitpid(pid_, &st, 0);
	status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	pid_ = -1;
	return status_;
}

int read_log(const std::string &path, struct rc_track *t, std::string *why)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int ret = rc_track_read(t, fd);
	close(fd);
	if (ret && why)
		*why = t->error;
	return ret;
}

std::vector<bool> engine_bits(const std::string &path, uint64_t granularity, std::string *why)
{
	resync_bitmap *b = nullptr;
	std::vector<bool> bits;
	int ret = resync_bitmap_load(&b, path.c_str());
	if (ret) {
		if (why)
			*why = resync_bitmap_load_error();
		return bits;
	}
	uint64_t size = resync_bitmap_device_size(b);
	bits.assign((size + granularity - 1) / granularity, false);
	uint64_t off = 0, len;
	while (resync_bitmap_next(b, &off, &len) == 1) {
		for (uint64_t o = off; o < off + len; o += granularity)
			bits[o / granularity] = true;
		off += len;
	}
	resync_bitmap_free(b);
	return bits;
}

} // namespace trk
