// SPDX-License-Identifier: MIT
// Every InitiateFailback return value reached through the CLI, with its exit
// status and the exact state left behind; a rejected call changes nothing.
#include "harness.h"
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const size_t kSize = 4 << 20;

class ReturnValues : public CtlTest {
protected:
	void SetUp() override
	{
		CtlTest::SetUp();
		add_vm("vm", kSize);
		target = path("vm-target.img");
		rp1 = make_image("rp1.img", kSize, 11);
		rp2 = make_image("rp2.img", kSize, 12);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk", "d0=" + rp1,
				"--time", "100" })
				  .rv,
			  0u);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp2", "--disk", "d0=" + rp2,
				"--time", "200" })
				  .rv,
			  0u);
	}
	void failover()
	{
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	// Runs failback with args, expects rv and its exit status, and that
	// nothing the call could have touched changed.
	void expect_rejected(const std::vector<std::string> &args, uint32_t rv,
			     const std::string &in = "", bool target_idle = true)
	{
		std::vector<std::string> targets;
		if (target_idle)
			targets.push_back(target);
		std::string before = snapshot("vm", targets);
		std::vector<std::string> a = { "failback", "vm" };
		a.insert(a.end(), args.begin(), args.end());
		CliRun r = ctl(a, in);
		EXPECT_EQ(r.rv, rv) << r.out << r.err;
		EXPECT_EQ(r.status, (int)(rv - 32767));
		EXPECT_FALSE(r.str("ErrorDescription").empty());
		EXPECT_EQ(r.obj("Job"), nullptr);
		EXPECT_EQ(snapshot("vm", targets), before);
	}
	std::string target, rp1, rp2;
};

TEST_F(ReturnValues, JobStarted4096ThenCompletes)
{
	failover();
	CliRun r = ctl({ "failback", "vm" });
	ASSERT_EQ(r.rv, 4096u) << r.err;
	EXPECT_EQ(r.status, 0);
	std::string job = r.str("JobId");
	ASSERT_EQ(job.size(), 36u);
	json_object *j = wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 7; });
	EXPECT_EQ(jnum(j, "PercentComplete"), 100);
	EXPECT_EQ(jnum(j, "ErrorCode"), 0);
	EXPECT_EQ(jstr(j, "RecoveryPoint"), "rp2"); // the latest
	EXPECT_EQ(read_file(target), read_file(rp2));
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 14);

	CliRun text = ctl_text({ "failback", "vm" });
	EXPECT_EQ(text.out.rfind("ReturnValue: 32775\n", 0), 0u);
}

TEST_F(ReturnValues, Completed0WithWait)
{
	failover();
	CliRun r =
		ctl({ "failback", "vm", "--recovery-point", "rp1", "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.err;
	EXPECT_EQ(r.status, 0);
	json_object *j = r.obj("Job");
	EXPECT_EQ(jnum(j, "JobState"), 7);
	EXPECT_EQ(jnum(j, "PercentComplete"), 100);
	EXPECT_EQ(read_file(target), read_file(rp1));
	CliRun text = ctl_text({ "job", "show", r.str("JobId") });
	EXPECT_NE(text.out.find("JobState: 7 (Completed)"), std::string::npos) << text.out;
}

TEST_F(ReturnValues, Failed32768WhenTheTargetFillsUp)
{
	std::string mnt = path("small");
	mkdir(mnt.c_str(), 0700);
	if (mount_tmpfs(mnt, "1m") < 0)
		GTEST_SKIP() << "cannot mount tmpfs here";
	std::string t = mnt + "/target.img";
	ASSERT_EQ(truncate((write_file(t, ""), t).c_str(), kSize), 0);
	ASSERT_EQ(ctl({ "vm", "add", "full", "--disk", "d0=" + t }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "full", "rp", "--disk", "d0=" + rp1 }).rv, 0u);
	ASSERT_EQ(ctl({ "failover", "full" }).rv, 0u);
	CliRun r = ctl({ "failback", "full", "--wait" });
	EXPECT_EQ(r.rv, 32768u) << r.out;
	EXPECT_EQ(r.status, 1);
	json_object *j = r.obj("Job");
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32768);
	EXPECT_NE(jstr(j, "ErrorDescription").find("space"), std::string::npos)
		<< jstr(j, "ErrorDescription");
	json_object *vm = vm_show("full");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 13);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 3);
	json_object *d = json_object_array_get_idx(json_object_object_get(vm, "Disks"), 0);
	EXPECT_TRUE(json_object_get_boolean(json_object_object_get(d, "Inconsistent")));
	unmount(mnt);
}

TEST_F(ReturnValues, AccessDenied32769OnReadOnlyStateDir)
{
	failover();
	if (mount_readonly_bind(state) < 0)
		GTEST_SKIP() << "cannot bind-mount read-only here";
	std::string before_target = read_file(target);
	CliRun r = ctl({ "failback", "vm" });
	EXPECT_EQ(r.rv, 32769u) << r.out;
	EXPECT_EQ(r.status, 2);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 5);
	EXPECT_EQ(json_object_array_length(ctl({ "job", "list" }).obj("Jobs")), 0u);
	unmount(state);
	EXPECT_EQ(read_file(target), before_target);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 5);
	EXPECT_EQ(json_object_array_length(ctl({ "job", "list" }).obj("Jobs")), 0u);
}

TEST_F(ReturnValues, NotSupported32770ReadOnlyNbdTarget)
{
	std::string sock = path("ro.sock");
	pid_t nbdkit = start_nbdkit(sock, { "-r", "memory", std::to_string(kSize) });
	if (nbdkit < 0)
		GTEST_SKIP() << "nbdkit not available";
	ASSERT_EQ(ctl({ "vm", "add", "ro", "--disk", "d0=nbd+unix:///?socket=" + sock }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "ro", "rp", "--disk", "d0=" + rp1 }).rv, 0u);
	ASSERT_EQ(ctl({ "failover", "ro" }).rv, 0u);
	std::string before = snapshot("ro", {});
	CliRun r = ctl({ "failback", "ro" });
	EXPECT_EQ(r.rv, 32770u) << r.out;
	EXPECT_EQ(r.status, 3);
	EXPECT_NE(r.str("ErrorDescription").find("read-only"), std::string::npos);
	EXPECT_EQ(snapshot("ro", {}), before);
	stop_process(nbdkit);
}

TEST_F(ReturnValues, StatusUnknown32771WhenTheWorkerVanishes)
{
	failover();
	CliRun r = ctl({ "failback", "vm", "--settings", R"({"rate_limit":262144})" });
	ASSERT_EQ(r.rv, 4096u);
	std::string job = r.str("JobId");
	json_object *j = job_show(job);
	ASSERT_GT(jnum(j, "WorkerPid"), 0);
	ASSERT_EQ(kill((pid_t)jnum(j, "WorkerPid"), SIGKILL), 0);
	CliRun w = ctl({ "job", "wait", job, "--timeout", "10" });
	EXPECT_EQ(w.rv, 32771u) << w.out;
	EXPECT_EQ(w.status, 4);
	j = job_show(job);
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32771);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationHealth"), 3);

	// An unreadable job record is "status unknown" too.
	write_file(state + "/jobs/" + job + "/job.json", "{ torn");
	CliRun s = ctl({ "job", "show", job });
	EXPECT_EQ(s.rv, 32771u);
	EXPECT_EQ(s.status, 4);
	EXPECT_EQ(ctl({ "job", "remove", job }).rv, 0u);
	EXPECT_EQ(ctl({ "job", "show", job }).rv, 32773u);
}

TEST_F(ReturnValues, Timeout32772LeavesTheJobRunning)
{
	failover();
	CliRun r = ctl({ "failback", "vm", "--settings", R"({"rate_limit":262144})", "--wait",
			 "--timeout", "0.3" });
	EXPECT_EQ(r.rv, 32772u) << r.out;
	EXPECT_EQ(r.status, 5);
	std::string job = r.str("JobId");
	json_object *j = job_show(job);
	EXPECT_TRUE(jnum(j, "JobState") == 3 || jnum(j, "JobState") == 4) << jnum(j, "JobState");
	EXPECT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });
}

TEST_F(ReturnValues, InvalidParameter32773)
{
	failover();
	CliRun r = ctl({ "failback", "nosuchvm" });
	EXPECT_EQ(r.rv, 32773u);
	EXPECT_EQ(r.status, 6);
	expect_rejected({ "--recovery-point", "nosuchrp" }, 32773);
	expect_rejected({ "--settings", R"({"verfy":true})" }, 32773);
	expect_rejected({ "--settings", R"({"disks":["d7"]})" }, 32773);
	expect_rejected({ "--settings", R"({"queue_depth":0})" }, 32773);
	expect_rejected({ "--settings", R"({"change_source":"bitmap"})" }, 32773);
	// A recovery point whose image is smaller than the target.
	std::string small = make_image("small.img", kSize / 2, 3);
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "small", "--disk", "d0=" + small }).rv, 0u);
	expect_rejected({ "--recovery-point", "small" }, 32773);
}

TEST_F(ReturnValues, InUse32774WhileAJobRuns)
{
	failover();
	CliRun r = ctl({ "failback", "vm", "--settings", R"({"rate_limit":262144})" });
	ASSERT_EQ(r.rv, 4096u);
	std::string job = r.str("JobId");
	// The worker moves the VM to 13 as it starts; the job's own writes to
	// the target go on, so only the records are compared.
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 4; });
	expect_rejected({}, 32774, "", false);
	EXPECT_EQ(ctl({ "vm", "remove", "vm" }).rv, 32774u);
	EXPECT_EQ(ctl({ "recovery-point", "remove", "vm", "rp1" }).rv, 32774u);
	EXPECT_EQ(ctl({ "job", "remove", job }).rv, 32774u);
	EXPECT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });
}

TEST_F(ReturnValues, InvalidState32775)
{
	expect_rejected({}, 32775); // still Replicating: never failed over
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 3);
	add_vm("prim", kSize, "primary");
	ASSERT_EQ(ctl({ "recovery-point", "add", "prim", "p", "--disk", "d0=" + rp1 }).rv, 0u);
	EXPECT_EQ(ctl({ "failback", "prim" }).rv, 32775u);
}

TEST_F(ReturnValues, IncorrectDataType32776)
{
	failover();
	expect_rejected({ "--settings", R"({"rate_limit":"fast"})" }, 32776);
	expect_rejected({ "--settings", "{ not json" }, 32776);
	write_file(path("settings.xml"), "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\">\n"
					 "<PROPERTY NAME=\"Resync_Verify\" TYPE=\"boolean\">\n"
					 "</INSTANCE>\n");
	expect_rejected({ "--settings", path("settings.xml") }, 32776);
	expect_rejected({ "--settings", "-" }, 32776, R"({"verify":"yes"})");
}

// ReplicationSettingData as the method describes it: the embedded instance
// of Msvm_ReplicationSettingData, inline, from a file and from stdin.
TEST_F(ReturnValues, CimXmlSettingsFailBackEndToEnd)
{
	failover();
	const std::string xml =
		"<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\">"
		"<PROPERTY NAME=\"__PATH\" CLASSORIGIN=\"___SYSTEM\" TYPE=\"string\">"
		"<VALUE>\\\\HV1\\root\\virtualization\\v2:Msvm_ReplicationSettingData</VALUE>"
		"</PROPERTY>"
		"<PROPERTY NAME=\"RecoveryHistory\" TYPE=\"uint16\"><VALUE>24</VALUE></PROPERTY>"
		"<PROPERTY.ARRAY NAME=\"IncludedDisks\" TYPE=\"string\"><VALUE.ARRAY>"
		"<VALUE>d0</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>"
		"<PROPERTY NAME=\"Resync_ChangeSource\" TYPE=\"string\"><VALUE>full</VALUE></PROPERTY>"
		"<PROPERTY NAME=\"Resync_Verify\" TYPE=\"boolean\"><VALUE>TRUE</VALUE></PROPERTY>"
		"<PROPERTY NAME=\"Resync_QueueDepth\" TYPE=\"uint32\"><VALUE>4</VALUE></PROPERTY>"
		"</INSTANCE>";
	CliRun r = ctl({ "failback", "vm", "--recovery-point", "rp1", "--settings", xml, "--wait",
			 "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(read_file(target), read_file(rp1));
	json_object *set = json_object_object_get(job_show(r.str("JobId")), "Settings");
	EXPECT_STREQ(json_object_to_json_string_ext(set, JSON_C_TO_STRING_PLAIN),
		     R"({"disks":["d0"],"change_source":"full","verify":true,)"
		     R"("verify_sample_per_gib":16,"verify_sample_min":256,"rate_limit":0,)"
		     R"("queue_depth":4,"tls":{},"memory_limit":268435456,)"
		     R"("nbd_connect_timeout_ms":0})");
	json_object *j = job_show(r.str("JobId"));
	EXPECT_EQ(jnum(j, "JobState"), 7);

	// Again from a file and from stdin, each to the other recovery point.
	write_file(path("rsd.xml"), xml);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	r = ctl({ "failback", "vm", "--recovery-point", "rp2", "--settings", path("rsd.xml"),
		  "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(read_file(target), read_file(rp2));
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	r = ctl({ "failback", "vm", "--recovery-point", "rp1", "--settings", "-", "--wait",
		  "--timeout", "60" },
		xml);
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(read_file(target), read_file(rp1));
}

// A malformed instance: 32776 naming the line and column, nothing touched.
TEST_F(ReturnValues, CimXmlSettingsMalformed32776)
{
	failover();
	std::string before = snapshot("vm", { target });
	const std::string bad = "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\">\n"
				"  <PROPERTY NAME=\"Resync_Verify\" TYPE=\"boolean\">\n"
				"    <VALUE>TRUE</VALUE>\n"
				"</INSTANCE>\n";
	CliRun r = ctl({ "failback", "vm", "--settings", bad });
	EXPECT_EQ(r.rv, 32776u) << r.out;
	EXPECT_EQ(r.status, 9);
	EXPECT_EQ(r.str("ErrorDescription"),
		  "settings: not well-formed CIM-XML at line 4, column 12: Opening and ending "
		  "tag mismatch: PROPERTY line 2 and INSTANCE");
	EXPECT_EQ(r.obj("Job"), nullptr);
	EXPECT_EQ(snapshot("vm", { target }), before);
	EXPECT_EQ(json_object_array_length(ctl({ "job", "list" }).obj("Jobs")), 0u);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 5);

	// A DOCTYPE (billion laughs in small) is refused the same way.
	r = ctl({ "failback", "vm", "--settings",
		  "<!DOCTYPE INSTANCE [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>\n"
		  "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\"/>" });
	EXPECT_EQ(r.rv, 32776u) << r.out;
	EXPECT_EQ(r.str("ErrorDescription"), "settings: CIM-XML at line 1, column 1: a DOCTYPE "
					     "is refused (no DTD, no entity declarations)");
	// An unknown property: 32773.
	r = ctl({ "failback", "vm", "--settings",
		  "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\"><PROPERTY NAME=\"Bogus\" "
		  "TYPE=\"string\"/></INSTANCE>" });
	EXPECT_EQ(r.rv, 32773u) << r.out;
	EXPECT_EQ(snapshot("vm", { target }), before);
}

TEST_F(ReturnValues, NotAvailable32777WhenNobodyListens)
{
	// A socket that exists but has no listener: connect gets ECONNREFUSED.
	std::string sock = path("dead.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {};
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock.c_str());
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ASSERT_EQ(ctl({ "vm", "add", "nbd", "--disk", "d0=nbd+unix:///?socket=" + sock }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "nbd", "rp", "--disk", "d0=" + rp1 }).rv, 0u);
	ASSERT_EQ(ctl({ "failover", "nbd" }).rv, 0u);
	std::string before = snapshot("nbd", {});
	CliRun r = ctl({ "failback", "nbd" });
	EXPECT_EQ(r.rv, 32777u) << r.out;
	EXPECT_EQ(r.status, 10);
	EXPECT_EQ(snapshot("nbd", {}), before);
}

TEST_F(ReturnValues, OutOfMemory32778WhenBuffersExceedTheBudget)
{
	failover();
	expect_rejected({ "--settings", R"({"queue_depth":1024,"request_size":67108864})" }, 32778);
}

TEST_F(ReturnValues, FileNotFound32779)
{
	failover();
	ASSERT_EQ(unlink(rp2.c_str()), 0);
	expect_rejected({}, 32779);
	expect_rejected({ "--settings", path("no-such-settings.json") }, 32779);
	ASSERT_EQ(unlink(target.c_str()), 0);
	std::string before = snapshot("vm", {});
	EXPECT_EQ(ctl({ "failback", "vm", "--recovery-point", "rp1" }).rv, 32779u);
	EXPECT_EQ(snapshot("vm", {}), before);
}
