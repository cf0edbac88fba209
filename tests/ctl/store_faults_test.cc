// SPDX-License-Identifier: MIT
// The store under faults (issue 8 item 13): job folders are durable before
// the VM names them, no randomness means no id (never an all-zero one), a
// killed call's leftovers are swept, job signals reach only the job's own
// worker, and RequestStateChange answers in its own table.  A worker is
// resyncctl exec'd as `resyncctl --worker STORE JOB`: one that cannot be
// exec'd (the exec_fail shim) leaves its job in Exception at once, and the
// worker entry refuses a start without the job's lock and ready pipe.
#include "harness.h"
#include "testutil.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

bool exists(const std::string &p)
{
	struct stat st;
	return lstat(p.c_str(), &st) == 0;
}

// A pid no process can have: pid_max itself (pids stay below it).
pid_t dead_pid()
{
	long max = std::stol(read_file("/proc/sys/kernel/pid_max"));
	return (pid_t)max;
}

class StoreFaults : public CtlTest {
protected:
	void SetUp() override
	{
		CtlTest::SetUp();
		add_vm("vm", 1 << 20);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk",
				"d0=" + make_image("rp1.img", 1 << 20, 7) })
				  .rv,
			  0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	std::string target() const
	{
		return path("vm-target.img");
	}
};

} // namespace

TEST_F(StoreFaults, JobFolderIsDurableBeforeTheVmNamesIt)
{
	std::string log = path("trace.log");
	std::string job;
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("store_trace"));
		ScopedEnv out("STORE_TRACE_LOG", log);
		CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
		ASSERT_EQ(r.rv, 0u) << r.out << r.err;
		job = r.str("JobId");
	}
	std::vector<std::string> l = rt::lines(rt::read_text(log));
	const std::string jobs = state + "/jobs", named = jobs + "/" + job;
	size_t born = SIZE_MAX, synced = SIZE_MAX, vm_names = SIZE_MAX;
	for (size_t i = 0; i < l.size(); i++) {
		const std::string &s = l[i];
		if (born == SIZE_MAX &&
		    (s == "mkdir " + named ||
		     (s.rfind("rename ", 0) == 0 && s.size() > named.size() &&
		      s.compare(s.size() - named.size() - 1, std::string::npos, " " + named) == 0)))
			born = i;
		else if (born != SIZE_MAX && synced == SIZE_MAX && s == "fsync " + jobs)
			synced = i;
		else if (born != SIZE_MAX && vm_names == SIZE_MAX && s.rfind("rename ", 0) == 0 &&
			 s.find(" " + state + "/vms/vm.json") != std::string::npos)
			vm_names = i;
	}
	std::string all;
	for (auto &s : l)
		all += s + "\n";
	ASSERT_NE(born, SIZE_MAX) << all;
	ASSERT_NE(synced, SIZE_MAX) << "jobs/ never fsynced after the job folder appeared\n" << all;
	ASSERT_NE(vm_names, SIZE_MAX) << all;
	EXPECT_LT(synced, vm_names) << "the VM names a job folder that may not survive a crash\n"
				    << all;
}

TEST_F(StoreFaults, NoRandomnessNoJobAndNothingWritten)
{
	std::string before = snapshot("vm", { target() });
	for (const char *err : { "38", "5" }) { // ENOSYS, EIO
		ScopedEnv pre("LD_PRELOAD", shim_path("getrandom_fail"));
		ScopedEnv e("GETRANDOM_ERRNO", err);
		CliRun r = ctl({ "failback", "vm" });
		EXPECT_EQ(r.rv, 32768u) << r.out;
		EXPECT_EQ(r.status, 1);
		EXPECT_NE(r.str("ErrorDescription").find("no random job id: getrandom"),
			  std::string::npos)
			<< r.str("ErrorDescription");
	}
	EXPECT_EQ(snapshot("vm", { target() }), before);
	EXPECT_EQ(json_object_array_length(ctl({ "job", "list" }).obj("Jobs")), 0u);
}

TEST_F(StoreFaults, NoRandomnessLeavesTheGenerationUnknownNotZero)
{
	// The CLI draws the job id; its worker then cannot draw the target's
	// fresh generation.  Unknown ("") makes the next failback compare;
	// zeroes would let a change record based on zeroes be trusted.
	ScopedEnv pre("LD_PRELOAD", shim_path("getrandom_fail"));
	ScopedEnv only("GETRANDOM_WORKER_ONLY", "1");
	CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out;
	json_object *d =
		json_object_array_get_idx(json_object_object_get(vm_show("vm"), "Disks"), 0);
	EXPECT_EQ(jstr(d, "TargetGenerationId"), "");
	EXPECT_EQ(read_file(target()), read_file(path("rp1.img")));
}

TEST_F(StoreFaults, KilledCallsLeftoversAreSwept)
{
	const pid_t gone = dead_pid(), alive = getpid();
	const std::string vms = state + "/vms/", jobs = state + "/jobs/";
	const std::string dead_tmp = vms + ".vm.json." + std::to_string(gone) + ".tmp";
	const std::string live_tmp = vms + ".vm.json." + std::to_string(alive) + ".tmp";
	const std::string orphan = jobs + "11111111-1111-4111-8111-111111111111";
	const std::string held = jobs + "22222222-2222-4222-8222-222222222222";
	const std::string half =
		jobs + ".33333333-3333-4333-8333-333333333333." + std::to_string(gone) + ".tmp";
	const std::string real = jobs + "44444444-4444-4444-8444-444444444444";
	write_file(dead_tmp, "{ \"Name\":");
	write_file(live_tmp, "{ \"Name\":");
	for (auto &d : { orphan, held, half, real })
		ASSERT_EQ(mkdir(d.c_str(), 0700), 0);
	write_file(orphan + "/lock", "");
	write_file(half + "/lock", "");
	write_file(real + "/job.json", "{}");
	write_file(real + "/.job.json." + std::to_string(gone) + ".tmp", "{");
	int lfd = open((held + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(flock(lfd, LOCK_EX), 0);

	EXPECT_EQ(ctl({ "vm", "show", "vm" }).rv, 0u);
	EXPECT_FALSE(exists(dead_tmp));
	EXPECT_TRUE(exists(live_tmp)) << "a live writer's temporary was removed";
	EXPECT_FALSE(exists(orphan));
	EXPECT_TRUE(exists(held)) << "a folder whose lock is held was removed";
	EXPECT_FALSE(exists(half));
	EXPECT_TRUE(exists(real + "/job.json"));
	EXPECT_FALSE(exists(real + "/.job.json." + std::to_string(gone) + ".tmp"));
	close(lfd);
	EXPECT_EQ(ctl({ "vm", "list" }).rv, 0u);
	EXPECT_FALSE(exists(held));
	unlink(live_tmp.c_str());
}

TEST_F(StoreFaults, JobSignalsNeverReachARecycledPid)
{
	// A job record whose worker pid now names another process (here a
	// sleep started after it), its lock held as a reaper holds it: no
	// RequestStateChange may signal that process.
	pid_t other = fork();
	if (other == 0) {
		execlp("sleep", "sleep", "600", (char *)nullptr);
		_exit(127);
	}
	ASSERT_GT(other, 0);
	const std::string id = "55555555-5555-4555-8555-555555555555", jd = state + "/jobs/" + id;
	ASSERT_EQ(mkdir(jd.c_str(), 0700), 0);
	std::ostringstream rec;
	rec << "{\"InstanceID\":\"" << id << "\",\"JobType\":124,\"JobState\":4,"
	    << "\"VirtualSystem\":\"vm\",\"RecoveryPoint\":\"rp1\",\"TimeSubmitted\":\"\",\"TimeSubmittedEpochNs\":1,"
	    << "\"WorkerPid\":" << other << ",\"WorkerStartTime\":1,\"Disks\":[]}";
	write_file(jd + "/job.json", rec.str());
	int lfd = open((jd + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(flock(lfd, LOCK_EX), 0);
	for (const char *verb : { "suspend", "terminate" }) {
		CliRun r = ctl({ "job", verb, id });
		EXPECT_EQ(r.rv, 4097u) << verb << ": " << r.out;
		EXPECT_EQ(r.status, 13);
	}
	EXPECT_EQ(waitpid(other, nullptr, WNOHANG), 0) << "the unrelated process was signalled";
	close(lfd);
	kill(other, SIGKILL);
	waitpid(other, nullptr, 0);
}

TEST_F(StoreFaults, RequestStateChangeOnUnknownJobIsInvalidParameter)
{
	for (const char *verb : { "suspend", "resume", "terminate", "kill" }) {
		CliRun r = ctl({ "job", verb, "66666666-6666-4666-8666-666666666666" });
		EXPECT_EQ(r.rv, 5u) << verb;
		EXPECT_EQ(r.status, 14);
		EXPECT_NE(r.str("ErrorDescription").find("unknown job"), std::string::npos);
	}
	EXPECT_EQ(ctl({ "job", "request-state-change", "nope", "3" }).rv, 5u);
	EXPECT_EQ(ctl({ "job", "request-state-change", "../vms", "4" }).rv, 5u);
}

TEST_F(StoreFaults, ExecFailureIsTheJobsExceptionAndTheNextFailbackRuns)
{
	const std::string before = read_file(target());
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("exec_fail"));
		CliRun r = ctl({ "failback", "vm" });
		EXPECT_EQ(r.rv, 32768u) << r.out;
		EXPECT_EQ(r.status, 1);
		EXPECT_NE(r.str("ErrorDescription").find("starting the worker: Exec format error"),
			  std::string::npos)
			<< r.out;
	}
	CliRun list = ctl({ "job", "list" });
	json_object *jobs = list.obj("Jobs");
	ASSERT_EQ(json_object_array_length(jobs), 1u);
	json_object *job = json_object_array_get_idx(jobs, 0);
	EXPECT_EQ(jnum(job, "JobState"), 10);
	EXPECT_EQ(jnum(job, "ErrorCode"), 32768);
	EXPECT_EQ(read_file(target()), before);

	CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(read_file(target()), read_file(path("rp1.img")));
}

TEST_F(StoreFaults, WorkerEntryWantsTheLockAndThePipe)
{
	CliRun r = run_cmd(ctl_binary(),
			   { "--worker", state, "11111111-1111-4111-8111-111111111111" });
	EXPECT_EQ(r.status, 2);
	EXPECT_NE(r.err.find("--worker is internal"), std::string::npos) << r.err;
}
