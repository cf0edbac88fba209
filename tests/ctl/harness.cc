// SPDX-License-Identifier: MIT
#include "harness.h"
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

CliRun::CliRun(CliRun &&o) noexcept
	: status(o.status), out(std::move(o.out)), err(std::move(o.err)), json(o.json), rv(o.rv)
{
	o.json = nullptr;
}

CliRun &CliRun::operator=(CliRun &&o) noexcept
{
	if (this != &o) {
		json_object_put(json);
		status = o.status;
		out = std::move(o.out);
		err = std::move(o.err);
		json = o.json;
		rv = o.rv;
		o.json = nullptr;
	}
	return *this;
}

CliRun::~CliRun()
{
	json_object_put(json);
}

std::string CliRun::str(const char *key) const
{
	return jstr(json, key);
}

int64_t CliRun::num(const char *key) const
{
	return jnum(json, key);
}

json_object *CliRun::obj(const char *key) const
{
	json_object *v = nullptr;
	return json && json_object_object_get_ex(json, key, &v) ? v : nullptr;
}

int64_t jnum(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return -1;
	return json_object_get_int64(v);
}

std::string jstr(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

std::string ctl_binary()
{
	const char *bin = getenv("RESYNC_BIN");
	if (bin && *bin)
		return std::string(bin) + "/resyncctl";
	// Beside the suite: build/tests/ctl_tests -> build/bin/resyncctl.
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "build/bin/resyncctl";
	self[n] = '\0';
	std::string p(self);
	p = p.substr(0, p.rfind('/'));
	return p.substr(0, p.rfind('/')) + "/bin/resyncctl";
}

std::string shim_path(const std::string &name)
{
	// build/bin/resyncctl -> build/tests/shim/NAME.so.  A sanitized binary
	// would refuse a preload that comes before its runtime.
	std::string bin = ctl_binary();
	const char *asan = getenv("ASAN_OPTIONS");
	std::string opts = asan ? asan : "";
	if (opts.find("verify_asan_link_order") == std::string::npos)
		setenv("ASAN_OPTIONS",
		       (opts + (opts.empty() ? "" : ":") + "verify_asan_link_order=0").c_str(), 1);
	return bin.substr(0, bin.rfind("/bin/")) + "/tests/shim/" + name + ".so";
}

CliRun run_cmd(const std::string &bin, const std::vector<std::string> &args, const std::string &in)
{
	int pin[2], pout[2], perr[2];
	CliRun r;

	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
		return r;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		std::vector<char *> argv;
		argv.push_back(const_cast<char *>(bin.c_str()));
		for (auto &a : args)
			argv.push_back(const_cast<char *>(a.c_str()));
		argv.push_back(nullptr);
		execv(bin.c_str(), argv.data());
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (!in.empty() && write(pin[1], in.data(), in.size()) < 0)
		perror("write stdin");
	close(pin[1]);
	struct pollfd p[2] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds) {
		if (poll(p, 2, -1) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char buf[4096];
			ssize_t k = read(p[i].fd, buf, sizeof(buf));
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			(i ? r.err : r.out).append(buf, (size_t)k);
		}
	}
	int st;
	waitpid(pid, &st, 0);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, r.out.c_str(), (int)r.out.size());
	if (o && json_object_is_type(o, json_type_object)) {
		r.json = o;
		r.rv = (uint32_t)jnum(o, "ReturnValue");
	} else {
		json_object_put(o);
		unsigned v;
		if (sscanf(r.out.c_str(), "ReturnValue: %u", &v) == 1)
			r.rv = v;
	}
	json_tokener_free(tok);
	return r;
}

std::string read_file(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	std::ostringstream s;
	s << f.rdbuf();
	return s.str();
}

void write_file(const std::string &path, const std::string &data)
{
	std::ofstream f(path, std::ios::binary | std::ios::trunc);
	f.write(data.data(), (std::streamsize)data.size());
}

std::string random_bytes(size_t n, uint32_t seed)
{
	std::mt19937_64 g(seed);
	std::string s(n, '\0');
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t v = g();
		memcpy(&s[i], &v, 8);
	}
	return s;
}

void CtlTest::SetUp()
{
	char tmpl[] = "/tmp/resyncctl-test.XXXXXX";
	ASSERT_NE(mkdtemp(tmpl), nullptr);
	dir = tmpl;
	state = dir + "/state";
}

void CtlTest::TearDown()
{
	// No worker may outlive its test: kill what still runs.
	CliRun jobs = ctl({ "job", "list" });
	json_object *arr = jobs.obj("Jobs");
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *j = json_object_array_get_idx(arr, i);
		int64_t st = jnum(j, "JobState"), pid = jnum(j, "WorkerPid");
		if (st >= 2 && st <= 6 && pid > 0)
			ctl({ "job", "kill", jstr(j, "InstanceID") });
	}
	for (auto *o : keep)
		json_object_put(o);
	keep.clear();
	// A test that stopped early may have left its mounts behind.
	std::ifstream mounts("/proc/self/mounts");
	std::string dev, mnt, rest;
	std::vector<std::string> ours;
	while (mounts >> dev >> mnt && std::getline(mounts, rest))
		if (mnt.rfind(dir + "/", 0) == 0)
			ours.push_back(mnt);
	for (auto it = ours.rbegin(); it != ours.rend(); ++it)
		unmount(*it);
	std::string cmd = "rm -rf '" + dir + "'";
	if (system(cmd.c_str()) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir.c_str());
}

CliRun CtlTest::ctl(const std::vector<std::string> &args, const std::string &in)
{
	std::vector<std::string> a = { "--state-dir", state, "--json" };
	a.insert(a.end(), args.begin(), args.end());
	CliRun r = run_cmd(ctl_binary(), a, in);
	if (!r.json)
		ADD_FAILURE() << "resyncctl " << args[0] << " printed no JSON; exit " << r.status
			      << "\nstdout: " << r.out << "\nstderr: " << r.err;
	return r;
}

CliRun CtlTest::ctl_text(const std::vector<std::string> &args, const std::string &in)
{
	std::vector<std::string> a = { "--state-dir", state };
	a.insert(a.end(), args.begin(), args.end());
	return run_cmd(ctl_binary(), a, in);
}

std::string CtlTest::make_image(const std::string &name, size_t size, uint32_t seed)
{
	write_file(path(name), random_bytes(size, seed));
	return path(name);
}

void CtlTest::add_vm(const std::string &vm, size_t size, const std::string &mode)
{
	std::string t = path(vm + "-target.img");
	write_file(t, std::string(size, '\0'));
	CliRun r = ctl({ "vm", "add", vm, "--disk", "d0=" + t, "--mode", mode });
	ASSERT_EQ(r.rv, 0u) << r.err;
}

json_object *CtlTest::job_show(const std::string &job)
{
	CliRun r = ctl({ "job", "show", job });
	json_object *j = r.obj("Job");
	if (!j)
		return nullptr;
	json_object_get(j);
	keep.push_back(j);
	return j;
}

json_object *CtlTest::vm_show(const std::string &vm)
{
	CliRun r = ctl({ "vm", "show", vm });
	json_object *j = r.obj("Vm");
	if (!j)
		return nullptr;
	json_object_get(j);
	keep.push_back(j);
	return j;
}

json_object *CtlTest::wait_job(const std::string &job, std::function<bool(json_object *)> pred,
			       int timeout_ms)
{
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	json_object *j = nullptr;
	do {
		j = job_show(job);
		if (j && pred(j))
			return j;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	} while (std::chrono::steady_clock::now() < end);
	ADD_FAILURE() << "job " << job << " never reached the expected state; last: "
		      << (j ? json_object_to_json_string(j) : "(none)");
	return j;
}

std::string CtlTest::snapshot(const std::string &vm, const std::vector<std::string> &targets)
{
	CliRun v = ctl({ "vm", "show", vm });
	CliRun j = ctl({ "job", "list" });
	std::string s = v.out;
	json_object *arr = j.obj("Jobs");
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		s += " job " + jstr(json_object_array_get_idx(arr, i), "InstanceID");
	for (auto &t : targets)
		s += std::to_string(std::hash<std::string>{}(read_file(t)));
	return s;
}

pid_t start_nbdkit(const std::string &sock, const std::vector<std::string> &args)
{
	pid_t pid = fork();
	if (pid == 0) {
		std::vector<std::string> a = { "nbdkit", "-f", "--exit-with-parent", "-U", sock };
		a.insert(a.end(), args.begin(), args.end());
		std::vector<char *> argv;
		for (auto &s : a)
			argv.push_back(const_cast<char *>(s.c_str()));
		argv.push_back(nullptr);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execvp("nbdkit", argv.data());
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;
		if (stat(sock.c_str(), &st) == 0)
			return pid;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	stop_process(pid);
	return -1;
}

void stop_process(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, nullptr, 0);
}

static int sh(const std::string &cmd)
{
	return system((cmd + " 2>/dev/null").c_str());
}

int mount_readonly_bind(const std::string &dir)
{
	if (sh("mount --bind '" + dir + "' '" + dir + "'"))
		return -1;
	if (sh("mount -o remount,ro,bind '" + dir + "'")) {
		unmount(dir);
		return -1;
	}
	return 0;
}

int mount_tmpfs(const std::string &dir, const std::string &size)
{
	return sh("mount -t tmpfs -o size=" + size + " tmpfs '" + dir + "'") ? -1 : 0;
}

void unmount(const std::string &dir)
{
	sh("umount '" + dir + "'");
}
