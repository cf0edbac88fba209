// SPDX-License-Identifier: MIT
// A job's worker is resyncctl exec'd as `resyncctl --worker STORE JOB`, not
// a bare fork of the CLI: a worker that cannot be exec'd (the exec_fail
// shim) makes the call return 32768 at once and leaves its job in
// Exception with the reason and the target untouched, and the next
// failback starts a worker that completes.  The worker entry refuses a
// start without the job's lock and ready pipe.
#include "harness.h"

namespace {

class WorkerExec : public CtlTest {
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
};

} // namespace

TEST_F(WorkerExec, ExecFailureIsTheJobsExceptionAndTheNextFailbackRuns)
{
	const std::string target = path("vm-target.img"), before = read_file(target);
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
	EXPECT_EQ(read_file(target), before);

	CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(read_file(target), read_file(path("rp1.img")));
}

TEST_F(WorkerExec, WorkerEntryWantsTheLockAndThePipe)
{
	CliRun r = run_cmd(ctl_binary(),
			   { "--worker", state, "11111111-1111-4111-8111-111111111111" });
	EXPECT_EQ(r.status, 2);
	EXPECT_NE(r.err.find("--worker is internal"), std::string::npos) << r.err;
}
