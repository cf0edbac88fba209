// SPDX-License-Identifier: MIT
#include "nbd_servers.h"
#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace nbdt {

namespace {

std::string replace_all(std::string s, const std::string &from, const std::string &to)
{
	for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
		s.replace(at, from.size(), to);
	return s;
}

bool exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

// Forks argv with stdout/stderr into logfile; the child dies with us.
int spawn(const std::vector<std::string> &argv, const std::string &logfile)
{
	std::vector<char *> args;
	for (const auto &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int fd = logfile.empty() ?
				 open("/dev/null", O_WRONLY) :
				 open(logfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(args[0], args.data());
		_exit(127);
	}
	return pid;
}

} // namespace

Server::Server(const rt::TempDir &dir, const std::string &name, std::vector<std::string> argv)
	: sock_(dir.path(name + ".sock")), pidfile_(dir.path(name + ".pid")),
	  logfile_(dir.path(name + ".log"))
{
	for (auto &a : argv) {
		a = replace_all(a, "{sock}", sock_);
		a = replace_all(a, "{pid}", pidfile_);
	}
	// A previous server of the same name may have left them behind.
	unlink(sock_.c_str());
	unlink(pidfile_.c_str());
	pid_ = spawn(argv, logfile_);
	// Generous: the test machine is shared and qemu-nbd starts slowly.
	for (int i = 0; i < 1000 && pid_ > 0; i++) {
		if (exists(pidfile_) && exists(sock_)) {
			ready_ = true;
			return;
		}
		int st;
		if (waitpid(pid_, &st, WNOHANG) == pid_) {
			pid_ = -1;
			break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	log_text_ = rt::read_text(logfile_);
	if (log_text_.empty())
		log_text_ = "server did not start: " + argv[0];
}

Server::~Server()
{
	stop();
}

void Server::stop()
{
	if (pid_ <= 0)
		return;
	kill(pid_, SIGTERM);
	int st;
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid_, &st, WNOHANG) == pid_) {
			pid_ = -1;
			return;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	kill(pid_, SIGKILL);
	waitpid(pid_, &st, 0);
	pid_ = -1;
}

void Server::crash()
{
	if (pid_ <= 0)
		return;
	kill(pid_, SIGKILL);
	int st;
	waitpid(pid_, &st, 0);
	pid_ = -1;
}

std::string Server::uri(const std::string &exp, bool tls) const
{
	return std::string(tls ? "nbds+unix:///" : "nbd+unix:///") + exp + "?socket=" + sock_;
}

std::unique_ptr<Server> nbdkit(const rt::TempDir &dir, const std::string &name,
			       const std::vector<std::string> &args)
{
	std::vector<std::string> argv = { "nbdkit", "-f",   "--exit-with-parent", "-U", "{sock}",
					  "-P",     "{pid}" };
	argv.insert(argv.end(), args.begin(), args.end());
	return std::make_unique<Server>(dir, name, argv);
}

std::unique_ptr<Server> qemu_nbd(const rt::TempDir &dir, const std::string &name,
				 const std::vector<std::string> &args)
{
	std::vector<std::string> argv = { "qemu-nbd", "-t", "-k", "{sock}", "--pid-file={pid}" };
	argv.insert(argv.end(), args.begin(), args.end());
	return std::make_unique<Server>(dir, name, argv);
}

int run(const std::vector<std::string> &argv, std::string *out)
{
	char tmpl[] = "/tmp/resync-nbd-run.XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return -1;
	close(fd);
	pid_t pid = spawn(argv, tmpl);
	int st = -1;
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (out)
		*out = rt::read_text(tmpl);
	unlink(tmpl);
	return pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

rt::Bytes read_export(const std::string &uri)
{
	char tmpl[] = "/var/tmp/resync-nbd-read.XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return {};
	close(fd);
	rt::Bytes data;
	if (run({ "nbdcopy", "--connections=1", uri, tmpl }) == 0)
		data = rt::read_file(tmpl);
	unlink(tmpl);
	return data;
}

} // namespace nbdt
