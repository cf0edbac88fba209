// SPDX-License-Identifier: MIT
// Whole failbacks: a chosen recovery point end to end, the change-source
// decision, job control (suspend, resume, terminate, kill), crashes of the
// worker, and concurrent callers.  Every run ends byte-identical.
#include "harness.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>
#include <chrono>
#include <future>
#include <random>
#include <thread>
extern "C" {
#include "resync/change_bitmap.h"
#include "resync/resync.h"
}

static json_object *disk_of(json_object *rec, size_t i)
{
	return json_object_array_get_idx(json_object_object_get(rec, "Disks"), i);
}

static bool jbool(json_object *o, const char *key)
{
	return json_object_get_boolean(json_object_object_get(o, key));
}

class Lifecycle : public CtlTest {};

TEST_F(Lifecycle, FailbackToAChosenOlderRecoveryPoint)
{
	const size_t s0 = 4 << 20, s1 = 2 << 20;
	std::string t0 = path("t0.img"), t1 = path("t1.img");
	write_file(t0, random_bytes(s0, 1));
	write_file(t1, random_bytes(s1, 2));
	ASSERT_EQ(ctl({ "vm", "add", "app", "--disk", "sys=" + t0, "--disk", "data=" + t1 }).rv,
		  0u);
	for (int i = 0; i < 3; i++) {
		std::string n = "rp" + std::to_string(i);
		std::string a = make_image(n + "-sys.img", s0, 10 + i),
			    b = make_image(n + "-data.img", s1, 20 + i);
		ASSERT_EQ(ctl({ "recovery-point", "add", "app", n, "--time",
				std::to_string(1000 + i), "--disk",
				"sys=" + a + ",generation=0000000000000000000000000000000" +
					std::to_string(i + 1),
				"--disk", "data=" + b })
				  .rv,
			  0u);
	}
	ASSERT_EQ(ctl({ "failover", "app" }).rv, 0u);
	EXPECT_EQ(jstr(vm_show("app"), "FailedOverTo"), "rp2");
	// The recovery VM runs and writes to its disks.
	write_file(path("rp2-sys.img"), random_bytes(s0, 99));

	CliRun r = ctl({ "failback", "app", "--recovery-point", "rp1", "--settings",
			 R"({"rate_limit":2097152})" });
	ASSERT_EQ(r.rv, 4096u) << r.err;
	std::string job = r.str("JobId");
	json_object *j = wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 4; });
	json_object *vm = vm_show("app");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 13);
	EXPECT_EQ(jstr(vm, "CurrentJob"), job);
	EXPECT_TRUE(jbool(disk_of(vm, 0), "Inconsistent"));
	EXPECT_TRUE(jbool(disk_of(vm, 1), "Inconsistent"));
	EXPECT_EQ(jnum(j, "JobType"), 124);
	EXPECT_TRUE(jbool(j, "Cancellable"));

	CliRun w = ctl({ "job", "wait", job, "--timeout", "60" });
	ASSERT_EQ(w.rv, 0u) << w.out;
	j = job_show(job);
	EXPECT_EQ(jnum(j, "JobState"), 7);
	EXPECT_EQ(jnum(j, "PercentComplete"), 100);
	EXPECT_EQ(jnum(j, "ErrorCode"), 0);
	EXPECT_FALSE(jbool(j, "Cancellable"));
	EXPECT_EQ(jnum(j, "BytesCopied"), jnum(j, "BytesToCopy"));
	EXPECT_EQ(jnum(j, "BytesToCopy"), (int64_t)(s0 + s1));
	EXPECT_EQ(jstr(j, "ElapsedTime").size(), 25u);
	EXPECT_FALSE(jstr(j, "StartTime").empty());
	EXPECT_TRUE(jbool(disk_of(j, 0), "Completed"));
	EXPECT_TRUE(jbool(disk_of(j, 1), "Completed"));
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");

	EXPECT_EQ(read_file(t0), read_file(path("rp1-sys.img")));
	EXPECT_EQ(read_file(t1), read_file(path("rp1-data.img")));
	vm = vm_show("app");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 14);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 1);
	EXPECT_FALSE(jbool(disk_of(vm, 0), "Inconsistent"));
	EXPECT_EQ(jstr(disk_of(vm, 0), "TargetGenerationId"), "00000000000000000000000000000002");
	EXPECT_EQ(jstr(disk_of(vm, 1), "TargetGenerationId").size(), 32u);

	// On a terminal, job wait draws a progress bar.
	CliRun tty = run_cmd("/usr/bin/script",
			     { "-qec", ctl_binary() + " --state-dir " + state + " job wait " + job,
			       "/dev/null" });
	EXPECT_NE(tty.out.find("] 100.0%"), std::string::npos) << tty.out;
	EXPECT_NE(tty.out.find("Completed"), std::string::npos);

	std::string log = read_file(state + "/jobs/" + job + "/log");
	EXPECT_NE(log.find("completed"), std::string::npos) << log;
	EXPECT_EQ(ctl({ "failback", "app" }).rv, 32775u);
	EXPECT_EQ(ctl({ "job", "suspend", job }).rv, 4097u);
	EXPECT_EQ(ctl({ "job", "remove", job }).rv, 0u);
	EXPECT_EQ(json_object_array_length(ctl({ "job", "list" }).obj("Jobs")), 0u);
}

class ChangeSource : public CtlTest {
protected:
	static constexpr size_t kSize = 8 << 20;
	static constexpr const char *kGen = "0123456789abcdef0123456789abcdef";
	void SetUp() override
	{
		CtlTest::SetUp();
		target = path("target.img");
		base = random_bytes(kSize, 5);
		write_file(target, base);
		image = base;
		for (size_t off : { (size_t)0, (size_t)3 << 20, (size_t)(7 << 20) + 4096 })
			image.replace(off, 65536, random_bytes(65536, (uint32_t)off + 7));
		write_file(path("rp.img"), image);
		ASSERT_EQ(ctl({ "vm", "add", "vm", "--disk",
				"d0=" + target + ",generation=" + kGen })
				  .rv,
			  0u);
	}
	void make_bitmap(const char *gen, bool consistent)
	{
		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_new(&b, kSize, 65536), 0);
		for (size_t off : { (size_t)0, (size_t)3 << 20, (size_t)(7 << 20) + 4096 })
			ASSERT_EQ(resync_bitmap_mark(b, off, 65536), 0);
		uint8_t g[16];
		for (int i = 0; i < 16; i++)
			g[i] = (uint8_t)std::stoi(std::string(gen + 2 * i, 2), nullptr, 16);
		resync_bitmap_set_generation(b, g);
		ASSERT_EQ(resync_bitmap_set_flags(b, consistent ? RESYNC_BITMAP_F_CONSISTENT : 0),
			  0);
		dirty = resync_bitmap_dirty_bytes(b);
		ASSERT_EQ(resync_bitmap_save(b, path("rp.bmp").c_str()), 0);
		resync_bitmap_free(b);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk",
				"d0=" + path("rp.img") + ",bitmap=" + path("rp.bmp") })
				  .rv,
			  0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	json_object *failback(uint32_t want = 0, const std::string &settings = "")
	{
		std::vector<std::string> a = { "failback", "vm", "--wait", "--timeout", "60" };
		if (!settings.empty())
			a.insert(a.end(), { "--settings", settings });
		CliRun r = ctl(a);
		EXPECT_EQ(r.rv, want) << r.out;
		json_object *j = r.obj("Job");
		if (j)
			keep.push_back(json_object_get(j));
		return j;
	}
	std::string target, base, image;
	uint64_t dirty = 0;
};

TEST_F(ChangeSource, AutoUsesATrustedBitmap)
{
	make_bitmap(kGen, true);
	json_object *j = failback();
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "bitmap");
	EXPECT_EQ(jnum(j, "BytesToCopy"), (int64_t)dirty);
	EXPECT_EQ(read_file(target), image);
}

TEST_F(ChangeSource, AutoComparesOnGenerationMismatch)
{
	make_bitmap("ffffffffffffffffffffffffffffffff", true);
	json_object *j = failback();
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");
	EXPECT_NE(jstr(disk_of(j, 0), "ChangeSourceReason").find("generation mismatch"),
		  std::string::npos);
	EXPECT_EQ(read_file(target), image);
}

TEST_F(ChangeSource, AutoComparesWhenTheBitmapIsNotConsistent)
{
	make_bitmap(kGen, false);
	json_object *j = failback();
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");
	EXPECT_NE(jstr(disk_of(j, 0), "ChangeSourceReason").find("not marked consistent"),
		  std::string::npos);
	EXPECT_EQ(read_file(target), image);
}

TEST_F(ChangeSource, ExplicitBitmapMustBeTrusted)
{
	make_bitmap("ffffffffffffffffffffffffffffffff", true);
	std::string before = snapshot("vm", { target });
	EXPECT_EQ(ctl({ "failback", "vm", "--settings", R"({"change_source":"bitmap"})" }).rv,
		  32773u);
	EXPECT_EQ(snapshot("vm", { target }), before);
	json_object *j = failback(0, R"({"change_source":"full","verify":true})");
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "full");
	EXPECT_EQ(read_file(target), image);
}

TEST_F(ChangeSource, MissingBitmapFileFallsBackOrIsNotFound)
{
	make_bitmap(kGen, true);
	ASSERT_EQ(unlink(path("rp.bmp").c_str()), 0);
	std::string before = snapshot("vm", { target });
	EXPECT_EQ(ctl({ "failback", "vm", "--settings", R"({"change_source":"bitmap"})" }).rv,
		  32779u);
	EXPECT_EQ(snapshot("vm", { target }), before);
	json_object *j = failback();
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");
	EXPECT_EQ(read_file(target), image);
}

TEST_F(ChangeSource, AutoUsesAConsistentExtentList)
{
	write_file(path("rp.extents"), "0 65536\n3145728 65536\n7344128 65536\n");
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk",
			"d0=" + path("rp.img") + ",extents=" + path("rp.extents") +
				",base=" + kGen + ",consistent" })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *j = failback();
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "extents");
	// The unaligned third range touches two 64 KiB plan blocks.
	EXPECT_EQ(jnum(j, "BytesToCopy"), 4 * 65536);
	EXPECT_EQ(read_file(target), image);
}

class JobControl : public CtlTest {
protected:
	static constexpr size_t kSize = 16 << 20;
	void SetUp() override
	{
		CtlTest::SetUp();
		add_vm("vm", kSize);
		target = path("vm-target.img");
		image = make_image("rp.img", kSize, 77);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk", "d0=" + image }).rv,
			  0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	std::string start(const std::string &settings)
	{
		CliRun r = ctl({ "failback", "vm", "--settings", settings });
		EXPECT_EQ(r.rv, 4096u) << r.out;
		return r.str("JobId");
	}
	void finish_identical(const std::string &previous)
	{
		CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
		ASSERT_EQ(r.rv, 0u) << r.out;
		json_object *d = disk_of(r.obj("Job"), 0);
		EXPECT_EQ(jstr(d, "ResumedFrom"), previous);
		EXPECT_EQ(read_file(target), read_file(image));
		json_object *vm = vm_show("vm");
		EXPECT_EQ(jnum(vm, "ReplicationState"), 14);
		EXPECT_EQ(jnum(vm, "ReplicationHealth"), 1);
		EXPECT_FALSE(jbool(disk_of(vm, 0), "Inconsistent"));
	}
	std::string target, image;
};

TEST_F(JobControl, SuspendResumeTerminateThenResume)
{
	std::string job = start(R"({"rate_limit":1048576,"request_size":262144,"queue_depth":16})");
	wait_job(job, [](json_object *o) {
		return jnum(o, "JobState") == 4 && jnum(o, "BytesCopied") > 0;
	});

	EXPECT_EQ(ctl({ "job", "suspend", job }).rv, 4096u);
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 5; });
	// In-flight requests drain and the record catches up within one
	// progress interval plus one record interval (under 0.5 s).
	std::this_thread::sleep_for(std::chrono::milliseconds(1000));
	int64_t copied = jnum(job_show(job), "BytesCopied");
	std::this_thread::sleep_for(std::chrono::milliseconds(600));
	EXPECT_EQ(jnum(job_show(job), "BytesCopied"), copied) << "a suspended job copies nothing";
	EXPECT_EQ(ctl({ "job", "suspend", job }).rv, 0u);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 13);

	EXPECT_EQ(ctl({ "job", "resume", job }).rv, 4096u);
	wait_job(job, [copied](json_object *o) {
		return jnum(o, "JobState") == 4 && jnum(o, "BytesCopied") > copied;
	});
	EXPECT_EQ(ctl({ "job", "resume", job }).rv, 0u);

	CliRun t = ctl({ "job", "terminate", job });
	EXPECT_EQ(t.rv, 4096u);
	EXPECT_EQ(t.status, 0);
	json_object *j = wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });
	EXPECT_LT(jnum(j, "PercentComplete"), 100);
	EXPECT_EQ(jnum(j, "ErrorCode"), 0);
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 13);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 2);
	EXPECT_TRUE(jbool(disk_of(vm, 0), "Inconsistent"));

	CliRun bad = ctl({ "job", "suspend", job });
	EXPECT_EQ(bad.rv, 4097u);
	EXPECT_EQ(bad.status, 13);
	EXPECT_EQ(ctl({ "job", "resume", job }).rv, 4097u);
	EXPECT_EQ(ctl({ "job", "terminate", job }).rv, 4097u);
	CliRun inval = ctl({ "job", "request-state-change", job, "9" });
	EXPECT_EQ(inval.rv, 5u);
	EXPECT_EQ(inval.status, 14);

	finish_identical(job);
}

TEST_F(JobControl, KillRequestThenResume)
{
	std::string job = start(R"({"rate_limit":1048576})");
	wait_job(job, [](json_object *o) { return jnum(o, "BytesCopied") > 0; });
	EXPECT_EQ(ctl({ "job", "kill", job }).rv, 0u);
	json_object *j = job_show(job);
	EXPECT_EQ(jnum(j, "JobState"), 9);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationHealth"), 3);
	EXPECT_EQ(ctl({ "job", "kill", job }).rv, 4097u);
	finish_identical(job);
}

// A worker killed with -9 at random moments, ten times over: each time the
// job reads as failed with status unknown, and the next failback resumes.
TEST_F(JobControl, KillNineAtRandomMomentsThenResumeIdentical)
{
	unsigned seed = (unsigned)std::chrono::system_clock::now().time_since_epoch().count();
	std::mt19937 rng(seed);
	std::uniform_int_distribution<int> delay_ms(0, 700);
	RecordProperty("seed", (int)seed);
	std::string prev;
	bool resumed = false;
	for (int i = 0; i < 10; i++) {
		std::string job =
			start(R"({"rate_limit":524288,"request_size":262144,"queue_depth":16})");
		ASSERT_FALSE(job.empty());
		json_object *j = job_show(job);
		if (!prev.empty()) {
			EXPECT_EQ(jstr(disk_of(j, 0), "ResumeOffered"), prev);
		}
		// The last kill waits for a persisted checkpoint, so the final run
		// must start from one.
		int ms = i == 9 ? 2500 : delay_ms(rng);
		std::this_thread::sleep_for(std::chrono::milliseconds(ms));
		j = job_show(job);
		ASSERT_FALSE(jnum(j, "JobState") == 7)
			<< "copy finished before kill " << i << " (seed " << seed << ")";
		resumed |= jbool(disk_of(j, 0), "Resumed");
		// One fact: ResumedFrom names a job exactly when Resumed.
		EXPECT_EQ(jbool(disk_of(j, 0), "Resumed"),
			  !jstr(disk_of(j, 0), "ResumedFrom").empty())
			<< "kill " << i;
		ASSERT_EQ(kill((pid_t)jnum(j, "WorkerPid"), SIGKILL), 0);
		j = wait_job(
			job, [](json_object *o) { return jnum(o, "JobState") == 10; }, 5000);
		EXPECT_EQ(jnum(j, "ErrorCode"), 32771) << "kill " << i << " after " << ms << " ms";
		int64_t st = jnum(vm_show("vm"), "ReplicationState");
		EXPECT_TRUE(st == 32768 || st == 13) << st;
		prev = job;
	}
	CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << " seed " << seed;
	resumed |= jbool(disk_of(r.obj("Job"), 0), "Resumed");
	EXPECT_EQ(jbool(disk_of(r.obj("Job"), 0), "Resumed"),
		  !jstr(disk_of(r.obj("Job"), 0), "ResumedFrom").empty());
	EXPECT_TRUE(resumed) << "no run started from a checkpoint";
	EXPECT_EQ(read_file(target), read_file(image)) << "seed " << seed;
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 14);
	EXPECT_EQ(json_object_array_length(ctl({ "job", "list", "--vm", "vm" }).obj("Jobs")), 11u);
}

// A worker records its final JobState as its last write and then exits, still
// holding the job's lock for a moment.  A caller that saw JobState 8 may fail
// back at once: the job's lock alone does not hold the VM once the record is
// final, while a job whose record is not final still does (32774).
TEST_F(JobControl, FinalJobWhoseWorkerIsStillExitingFreesTheVm)
{
	std::string job = start(R"({"rate_limit":1048576})");
	ASSERT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });
	std::string lock = state + "/jobs/" + job + "/lock";
	int fd = -1;
	for (int i = 0; i < 600 && fd < 0; i++) {
		fd = open(lock.c_str(), O_RDWR);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	ASSERT_GE(fd, 0) << "the worker never released " << lock;
	CliRun r = ctl({ "failback", "vm", "--settings", R"({"rate_limit":1048576})" });
	close(fd);
	EXPECT_EQ(r.rv, 4096u) << r.out << r.err;
	std::string next = r.str("JobId");
	ASSERT_EQ(ctl({ "job", "terminate", next }).rv, 4096u);
	wait_job(next, [](json_object *o) { return jnum(o, "JobState") == 8; });
}

TEST_F(JobControl, ConcurrentFailbacksOneWins)
{
	for (int round = 0; round < 3; round++) {
		auto call = [this] {
			CliRun r = ctl(
				{ "failback", "vm", "--settings", R"({"rate_limit":1048576})" });
			return std::make_pair(r.rv, r.str("JobId"));
		};
		auto a = std::async(std::launch::async, call);
		auto b = std::async(std::launch::async, call);
		auto ra = a.get(), rb = b.get();
		std::vector<uint32_t> rvs = { ra.first, rb.first };
		std::sort(rvs.begin(), rvs.end());
		EXPECT_EQ(rvs, (std::vector<uint32_t>{ 4096u, 32774u })) << "round " << round;
		std::string job = ra.first == 4096u ? ra.second : rb.second;
		EXPECT_EQ(json_object_array_length(ctl({ "job", "list" }).obj("Jobs")),
			  (size_t)round + 1);
		EXPECT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
		wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });
	}
}
