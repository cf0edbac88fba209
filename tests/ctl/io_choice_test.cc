// SPDX-License-Identifier: MIT
// A failback job's request size and queue depth per disk: without them in
// the settings the engine chooses each disk's from what its endpoints report
// (engine/tune.c), and the job record's disk says what it chose
// (RequestSize, QueueDepth, IoChoice); a value in the settings wins.  Both
// sides of each disk are nbdkit's file plugin behind the blocksize-policy
// filter, so every endpoint reports exactly what the test sets (a file
// would report its file system's device, which differs between machines):
// disk d0's image and target prefer 2 MiB blocks, disk d1's take at most
// 256 KiB (tests/nbd/tune_test.cc has the engine's own checks of both).
// Exact values; the targets end equal to the images.
#include "harness.h"
#include <string.h>

namespace {

constexpr size_t kSize = 8 << 20;

json_object *disk_of(json_object *job, size_t i)
{
	return json_object_array_get_idx(json_object_object_get(job, "Disks"), i);
}

} // namespace

class IoChoice : public CtlTest {
protected:
	void TearDown() override
	{
		CtlTest::TearDown();
		for (pid_t p : servers)
			stop_process(p);
	}

	// nbdkit serving file behind blocksize-policy with these sizes.
	std::string serve(const std::string &name, const std::string &file,
			  const std::string &preferred, const std::string &maximum)
	{
		std::string sock = path(name + ".sock");
		pid_t p = start_nbdkit(sock, { "--filter=blocksize-policy", "file", file,
					       "blocksize-preferred=" + preferred,
					       "blocksize-maximum=" + maximum });
		EXPECT_GT(p, 0) << "nbdkit did not start";
		servers.push_back(p);
		return "nbd+unix:///?socket=" + sock;
	}

	// d0's image and target prefer 2 MiB; d1's prefer 64 KiB (below the
	// engine's 1 MiB: they raise nothing) and take at most 256 KiB.
	void make_vm()
	{
		const char *pref[] = { "2M", "64K" }, *max[] = { "32M", "256K" };
		std::vector<std::string> vm = { "vm", "add", "vm" },
					 rp = { "recovery-point", "add", "vm", "rp" };
		for (int i = 0; i < 2; i++) {
			std::string d = "d" + std::to_string(i), t = path(d + "-target.img");
			write_file(t, std::string(kSize, '\0'));
			targets.push_back(t);
			images.push_back(make_image(d + "-rp.img", kSize, 70 + i));
			vm.insert(vm.end(),
				  { "--disk", d + "=" + serve(d + "-target", t, pref[i], max[i]) });
			rp.insert(rp.end(),
				  { "--disk",
				    d + "=" + serve(d + "-rp", images.back(), pref[i], max[i]) });
		}
		ASSERT_FALSE(HasFailure());
		ASSERT_EQ(ctl(vm).rv, 0u);
		ASSERT_EQ(ctl(rp).rv, 0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}

	// failback --wait with these settings: completed, the targets equal the
	// images; the job record.
	json_object *failback(const std::string &settings)
	{
		CliRun r = ctl(
			{ "failback", "vm", "--settings", settings, "--wait", "--timeout", "120" });
		EXPECT_EQ(r.rv, 0u) << r.out << r.err;
		json_object *j = r.obj("Job");
		EXPECT_NE(j, nullptr) << r.out;
		if (!j)
			return nullptr;
		keep.push_back(json_object_get(j));
		EXPECT_EQ(jnum(j, "JobState"), 7);
		for (size_t i = 0; i < targets.size(); i++)
			EXPECT_TRUE(read_file(targets[i]) == read_file(images[i])) << "disk " << i;
		return j;
	}

	// Disk i of job copied with exactly request bytes at depth, and its
	// IoChoice says `says`.
	void expect_io(json_object *job, size_t i, int64_t request, int64_t depth,
		       const std::string &says)
	{
		json_object *d = disk_of(job, i);
		ASSERT_NE(d, nullptr);
		std::string why = jstr(d, "IoChoice");
		EXPECT_EQ(jnum(d, "RequestSize"), request) << "disk " << i << ": " << why;
		EXPECT_EQ(jnum(d, "QueueDepth"), depth) << "disk " << i << ": " << why;
		EXPECT_NE(why.find(says), std::string::npos) << "disk " << i << ": " << why;
	}

	std::vector<std::string> targets, images;
	std::vector<pid_t> servers;
};

// Nothing set: d0 takes its target's preferred 2 MiB, 16 of them (the
// engine's 32 MiB bound, NBD reporting no queue); d1 is sized for 1 MiB
// requests (32 deep) and then capped to its target's 256 KiB maximum.  The
// stored settings leave both keys out, and job show prints the choice.
TEST_F(IoChoice, AbsentSettingsTakeTheEnginesChoicePerDisk)
{
	ASSERT_NO_FATAL_FAILURE(make_vm());
	json_object *j = failback(R"({"change_source":"full"})");
	ASSERT_NE(j, nullptr);
	ASSERT_NO_FATAL_FAILURE(expect_io(
		j, 0, 2 << 20, 16,
		"request 2048 KiB (an endpoint's preferred size), depth 16 (the memory bound, "
		"no queue reported)"));
	ASSERT_NO_FATAL_FAILURE(expect_io(j, 1, 256 << 10, 32, "requests of 256 KiB at most"));
	json_object *set = json_object_object_get(j, "Settings");
	EXPECT_FALSE(json_object_object_get_ex(set, "queue_depth", nullptr))
		<< json_object_to_json_string(set);
	EXPECT_FALSE(json_object_object_get_ex(set, "request_size", nullptr))
		<< json_object_to_json_string(set);

	// The record as job show reads it back, and its text form.
	json_object *shown = job_show(jstr(j, "InstanceID"));
	ASSERT_NO_FATAL_FAILURE(expect_io(shown, 0, 2 << 20, 16, "preferred size"));
	ASSERT_NO_FATAL_FAILURE(expect_io(shown, 1, 256 << 10, 32, "at most"));
	CliRun text = ctl_text({ "job", "show", jstr(j, "InstanceID") });
	EXPECT_EQ(text.status, 0);
	EXPECT_NE(text.out.find("\n  I/O: requests of 2097152 bytes at depth 16: request 2048 KiB"),
		  std::string::npos)
		<< text.out;
	EXPECT_NE(text.out.find("\n  I/O: requests of 262144 bytes at depth 32: "),
		  std::string::npos)
		<< text.out;
}

// Both set: every disk copies with them, whatever its endpoints report.
TEST_F(IoChoice, SettingsWinOverEveryEndpoint)
{
	ASSERT_NO_FATAL_FAILURE(make_vm());
	json_object *j =
		failback(R"({"change_source":"full","queue_depth":3,"request_size":131072})");
	ASSERT_NE(j, nullptr);
	for (size_t i = 0; i < 2; i++)
		ASSERT_NO_FATAL_FAILURE(expect_io(j, i, 128 << 10, 3,
						  "request 128 KiB (as set), depth 3 (as set)"));
	json_object *set = json_object_object_get(j, "Settings");
	EXPECT_EQ(jnum(set, "queue_depth"), 3);
	EXPECT_EQ(jnum(set, "request_size"), 131072);
}

// One set, the other the engine's: the depth given, each disk's own request.
TEST_F(IoChoice, DepthSetRequestChosenPerDisk)
{
	ASSERT_NO_FATAL_FAILURE(make_vm());
	json_object *j = failback(R"({"change_source":"full","queue_depth":4})");
	ASSERT_NE(j, nullptr);
	ASSERT_NO_FATAL_FAILURE(expect_io(j, 0, 2 << 20, 4,
					  "request 2048 KiB (an endpoint's preferred size), "
					  "depth 4 (as set)"));
	ASSERT_NO_FATAL_FAILURE(expect_io(j, 1, 256 << 10, 4, "requests of 256 KiB at most"));
}
