// SPDX-License-Identifier: MIT
// `job wait` and `failback --wait` (ctl/cli_out.c): they wake on the job
// folder's changes and keep a poll as the fallback.  Whatever way they learn
// of the end, they return the job's exact final record and the exact return
// value, only after the folder holding that record is synced, and also when
// no watch can be made or the worker dies without writing its end.
#include "harness.h"
#include "testutil.h"
#include <dirent.h>
#include <algorithm>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace {

class JobWait : public CtlTest {
protected:
	static constexpr size_t kSize = 8 << 20;
	void SetUp() override
	{
		CtlTest::SetUp();
		add_vm("vm", kSize);
		image = make_image("rp.img", kSize, 31);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk", "d0=" + image }).rv,
			  0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	// A failback slow enough (a rate limit) that a waiter starts before
	// its end.
	std::string start(const std::string &settings = R"({"rate_limit":4194304})")
	{
		CliRun r = ctl({ "failback", "vm", "--settings", settings });
		EXPECT_EQ(r.rv, 4096u) << r.out << r.err;
		return r.str("JobId");
	}
	static std::string text(json_object *o)
	{
		return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "(none)";
	}
	// job wait's record is the stored one, byte for byte as JSON.
	void expect_final_record(const CliRun &w, const std::string &job, int64_t want)
	{
		json_object *got = w.obj("Job");
		ASSERT_NE(got, nullptr) << w.out << w.err;
		EXPECT_EQ(jnum(got, "JobState"), want);
		EXPECT_EQ(text(got), text(job_show(job)));
	}
	std::string image;
};

// The pid of this test's child whose command line holds needle, or -1.
pid_t child_running(const std::string &needle)
{
	DIR *d = opendir("/proc");
	pid_t found = -1;
	for (struct dirent *de; d && found < 0 && (de = readdir(d));) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		std::string st = rt::read_text("/proc/" + std::to_string(pid) + "/stat");
		size_t paren = st.rfind(')');
		if (paren == std::string::npos)
			continue;
		std::istringstream in(st.substr(paren + 2));
		char state;
		long ppid;
		if (!(in >> state >> ppid) || ppid != getpid())
			continue;
		std::string cmd = rt::read_text("/proc/" + std::to_string(pid) + "/cmdline");
		std::replace(cmd.begin(), cmd.end(), '\0', ' ');
		if (cmd.find(needle) != std::string::npos)
			found = (pid_t)pid;
	}
	if (d)
		closedir(d);
	return found;
}

// Whether pid sleeps in poll(2) (ppoll where there is no poll): job wait's
// only sleep, entered after it has read a record that is not final.
bool sleeps_in_poll(pid_t pid)
{
	std::istringstream in(rt::read_text("/proc/" + std::to_string(pid) + "/syscall"));
	long nr = -1;
	in >> nr;
#ifdef SYS_poll
	if (nr == SYS_poll)
		return true;
#endif
	return nr == SYS_ppoll;
}

} // namespace

TEST_F(JobWait, ReturnsTheExactFinalRecordWhenWokenByTheWatch)
{
	std::string job = start();
	CliRun w = ctl({ "job", "wait", job, "--timeout", "60" });
	ASSERT_EQ(w.rv, 0u) << w.out << w.err;
	EXPECT_EQ(w.status, 0);
	expect_final_record(w, job, 7);
	EXPECT_EQ(jnum(w.obj("Job"), "BytesCopied"), (int64_t)kSize);
	EXPECT_EQ(read_file(path("vm-target.img")), read_file(image));
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 14);
}

// No inotify instance to be had (the user's limit reached): the poll alone
// still sees the end, and the answer is the same.
TEST_F(JobWait, WithoutAWatchThePollReturnsTheSameFinalRecord)
{
	std::string job = start();
	CliRun w;
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("inotify_fail"));
		w = ctl({ "job", "wait", job, "--timeout", "60" });
	}
	ASSERT_EQ(w.rv, 0u) << w.out << w.err;
	expect_final_record(w, job, 7);
	EXPECT_EQ(read_file(path("vm-target.img")), read_file(image));
}

// A worker killed with -9 writes no end and renames nothing into the job's
// folder, so no watch event comes: the fallback poll finds its lock free,
// and the waiter reports the job it reaped (status unknown).  The kill comes
// once the waiter sleeps in its wait, having read a Running record.  Its
// --timeout is an hour: without the fallback it would sleep until then (it
// rereads at its deadline), and the suite's own timeout would fail it.
TEST_F(JobWait, ReturnsWhenTheWorkerDiesWithoutWritingItsEnd)
{
	std::string job = start(R"({"rate_limit":262144})");
	json_object *j = wait_job(
		job, [](json_object *o) { return jnum(o, "JobState") == 4; }, 20000);
	ASSERT_EQ(jnum(j, "JobState"), 4);
	auto waiter = std::async(std::launch::async, [&] {
		return ctl({ "job", "wait", job, "--timeout", "3600" });
	});
	pid_t w_pid = -1;
	auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	while (std::chrono::steady_clock::now() < end &&
	       ((w_pid = child_running("job wait " + job)) < 0 || !sleeps_in_poll(w_pid)))
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	ASSERT_GT(w_pid, 0) << "job wait never started";
	ASSERT_TRUE(sleeps_in_poll(w_pid)) << "job wait never slept in its wait";
	ASSERT_EQ(jnum(job_show(job), "JobState"), 4) << "the job ended before the kill";
	ASSERT_EQ(kill((pid_t)jnum(j, "WorkerPid"), SIGKILL), 0);
	CliRun w = waiter.get();
	EXPECT_EQ(w.rv, 32771u) << w.out << w.err;
	EXPECT_EQ(w.status, 32771 - 32767);
	expect_final_record(w, job, 10);
	EXPECT_EQ(jnum(w.obj("Job"), "ErrorCode"), 32771);
}

// The waiter reports an end only after syncing the folder the end was
// renamed into (the worker's own fsync of it may not have finished when the
// rename woke the waiter).  store_trace logs this waiter's directory syncs
// and renames only: the worker runs without it.
TEST_F(JobWait, SyncsTheJobFolderBeforeReportingTheEnd)
{
	std::string job = start(), log = path("trace.log");
	CliRun w;
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("store_trace"));
		ScopedEnv out("STORE_TRACE_LOG", log);
		w = ctl({ "job", "wait", job, "--timeout", "60" });
	}
	ASSERT_EQ(w.rv, 0u) << w.out << w.err;
	std::vector<std::string> l = rt::lines(rt::read_text(log));
	ASSERT_FALSE(l.empty()) << "the waiter synced nothing";
	EXPECT_EQ(l.back(), "fsync " + state + "/jobs/" + job);
}

// failback --wait goes through the same wait: the same exact record, and
// its return value 0 only for a completed job.
TEST_F(JobWait, FailbackWaitReturnsTheFinalRecord)
{
	CliRun r = ctl({ "failback", "vm", "--settings", R"({"rate_limit":4194304})", "--wait",
			 "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(r.status, 0);
	expect_final_record(r, r.str("JobId"), 7);
	EXPECT_EQ(read_file(path("vm-target.img")), read_file(image));
}
