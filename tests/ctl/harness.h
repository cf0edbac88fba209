// SPDX-License-Identifier: MIT
// Shared fixture for the resyncctl suite: a private state store and image
// folder per test, the CLI run as a child process, its JSON output parsed
// with json-c, and helpers to make images and to poll jobs.
#ifndef CTL_TEST_HARNESS_H
#define CTL_TEST_HARNESS_H

#include <gtest/gtest.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/types.h>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct CliRun {
	int status = -1; // exit status, or 128 + signal
	std::string out, err;
	json_object *json = nullptr; // parsed stdout when --json was given
	uint32_t rv = UINT32_MAX;    // ReturnValue from stdout
	CliRun() = default;
	CliRun(const CliRun &) = delete;
	CliRun &operator=(const CliRun &) = delete;
	CliRun(CliRun &&o) noexcept;
	CliRun &operator=(CliRun &&o) noexcept;
	~CliRun();
	// Field of the JSON output; "" / -1 when absent.
	std::string str(const char *key) const;
	int64_t num(const char *key) const;
	json_object *obj(const char *key) const;
};

// Path of the resyncctl binary under test.
std::string ctl_binary();
// Runs the binary with args, feeding in to its stdin.
CliRun run_cmd(const std::string &bin, const std::vector<std::string> &args,
	       const std::string &in = "");
std::string read_file(const std::string &path);
void write_file(const std::string &path, const std::string &data);
// Deterministic pseudo-random bytes.
std::string random_bytes(size_t n, uint32_t seed);
int64_t jnum(json_object *o, const char *key);
std::string jstr(json_object *o, const char *key);

class CtlTest : public ::testing::Test {
protected:
	void SetUp() override;
	void TearDown() override;

	// resyncctl --state-dir STATE --json ARGS...
	CliRun ctl(const std::vector<std::string> &args, const std::string &in = "");
	// Same without --json (human output).
	CliRun ctl_text(const std::vector<std::string> &args, const std::string &in = "");
	std::string path(const std::string &name) const
	{
		return dir + "/" + name;
	}
	// A file of size bytes of pseudo-random data.
	std::string make_image(const std::string &name, size_t size, uint32_t seed);
	// A VM with one disk whose target is a zero-filled file of size bytes.
	void add_vm(const std::string &vm, size_t size, const std::string &mode = "replica");
	// The job's record (job show), polled until pred holds or timeout_ms passes.
	json_object *wait_job(const std::string &job, std::function<bool(json_object *)> pred,
			      int timeout_ms = 20000);
	json_object *job_show(const std::string &job);
	json_object *vm_show(const std::string &vm);
	// Everything a rejected call must leave alone: the VM record, the set
	// of jobs and the bytes of the target files.
	std::string snapshot(const std::string &vm, const std::vector<std::string> &targets);

	std::string dir;                 // per-test temporary folder
	std::string state;               // state store inside it
	std::vector<json_object *> keep; // records returned to the test, freed at teardown
};

#endif

// Sets an environment variable for the commands one scope runs.
struct ScopedEnv {
	std::string name;
	ScopedEnv(const char *n, const std::string &v) : name(n)
	{
		setenv(n, v.c_str(), 1);
	}
	~ScopedEnv()
	{
		unsetenv(name.c_str());
	}
};
// An LD_PRELOAD shim built from tests/shim/NAME.c, for ScopedEnv
// ("LD_PRELOAD", shim_path(NAME)); a sanitized resyncctl accepts it too.
std::string shim_path(const std::string &name);

// Starts `nbdkit -f --exit-with-parent -U SOCK ARGS...` and waits for its
// socket; returns its pid, or -1 when nbdkit is missing or did not start.
pid_t start_nbdkit(const std::string &sock, const std::vector<std::string> &args);
void stop_process(pid_t pid);
// Mounts: 0, or -1 when this machine does not let the test mount.
int mount_readonly_bind(const std::string &dir);
int mount_tmpfs(const std::string &dir, const std::string &size);
void unmount(const std::string &dir);
