// SPDX-License-Identifier: MIT
// A failback of several disks copies them at once: the targets' nbdkit
// servers (log and delay filters) see writes in overlapping windows, and
// RESYNCCTL_SEQUENTIAL_DISKS=1 (one after the other) does not.  The job's
// rate limit holds for all disks together; one disk's failure leaves the
// others completed and recorded consistent; suspend, terminate and kill -9
// act on every disk, and the next failback resumes each to identical.
#include "harness.h"
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>
#include <sstream>

namespace {

json_object *disk_of(json_object *rec, size_t i)
{
	return json_object_array_get_idx(json_object_object_get(rec, "Disks"), i);
}

bool jbool(json_object *o, const char *key)
{
	return json_object_get_boolean(json_object_object_get(o, key));
}

// The times (seconds of the day, from the log filter's timestamps) at which
// a server received each write request.
std::vector<double> write_times(const std::string &log)
{
	std::vector<double> t;
	std::istringstream in(log);
	std::string line;
	while (std::getline(in, line)) {
		int h, m;
		double s;
		if (line.find(" Write id=") == std::string::npos ||
		    line.find("...Write") != std::string::npos)
			continue;
		if (sscanf(line.c_str(), "%*d-%*d-%*d %d:%d:%lf", &h, &m, &s) == 3)
			t.push_back(h * 3600.0 + m * 60.0 + s);
	}
	std::sort(t.begin(), t.end());
	return t;
}

} // namespace

static const char *kFull = R"({"change_source":"full","request_size":16384,"queue_depth":16})";

class ParallelDisks : public CtlTest {
protected:
	static constexpr size_t kSize = 4 << 20;

	void TearDown() override
	{
		CtlTest::TearDown();
		for (pid_t p : servers)
			stop_process(p);
	}

	// Disk i's target is a zero file served by nbdkit (log filter
	// outermost, then delay per write) when served, else the file itself.
	void make_vm(int n, bool served, const std::string &delay = "50ms")
	{
		std::vector<std::string> vm = { "vm", "add", "vm" },
					 rp = { "recovery-point", "add", "vm", "rp" };
		for (int i = 0; i < n; i++) {
			std::string d = "d" + std::to_string(i), t = path(d + "-target.img");
			write_file(t, std::string(kSize, '\0'));
			targets.push_back(t);
			images.push_back(make_image(d + "-rp.img", kSize, 40 + i));
			std::string where = t;
			if (served) {
				std::string sock = path(d + ".sock");
				logs.push_back(path(d + ".log"));
				pid_t p = start_nbdkit(sock, { "--filter=log", "--filter=delay",
							       "file", t, "logfile=" + logs.back(),
							       "delay-write=" + delay });
				ASSERT_GT(p, 0) << "nbdkit did not start";
				servers.push_back(p);
				where = "nbd+unix:///?socket=" + sock;
			}
			vm.push_back("--disk");
			vm.push_back(d + "=" + where);
			rp.push_back("--disk");
			rp.push_back(d + "=" + images.back());
		}
		ASSERT_EQ(ctl(vm).rv, 0u);
		ASSERT_EQ(ctl(rp).rv, 0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	std::string start(const std::string &settings)
	{
		CliRun r = ctl({ "failback", "vm", "--settings", settings });
		EXPECT_EQ(r.rv, 4096u) << r.out << r.err;
		return r.str("JobId");
	}
	void expect_identical()
	{
		for (size_t i = 0; i < targets.size(); i++)
			EXPECT_EQ(read_file(targets[i]), read_file(images[i])) << "disk " << i;
	}
	// Whether the servers of disks a and b took writes at the same time:
	// each took one before the other's last.
	bool overlap(size_t a, size_t b)
	{
		std::vector<double> x = write_times(read_file(logs[a])),
				    y = write_times(read_file(logs[b]));
		EXPECT_GT(x.size(), 8u) << read_file(logs[a]);
		EXPECT_GT(y.size(), 8u) << read_file(logs[b]);
		return !x.empty() && !y.empty() && x.front() < y.back() && y.front() < x.back();
	}
	// A resumed job plans only what its checkpoints left.
	void expect_completed(json_object *j, bool resumed = false)
	{
		EXPECT_EQ(jnum(j, "JobState"), 7);
		EXPECT_EQ(jnum(j, "PercentComplete"), 100);
		if (resumed)
			EXPECT_LT(jnum(j, "BytesToCopy"), (int64_t)(kSize * targets.size()));
		else
			EXPECT_EQ(jnum(j, "BytesToCopy"), (int64_t)(kSize * targets.size()));
		EXPECT_EQ(jnum(j, "BytesCopied"), jnum(j, "BytesToCopy"));
		for (size_t i = 0; i < targets.size(); i++)
			EXPECT_TRUE(jbool(disk_of(j, i), "Completed")) << "disk " << i;
		json_object *vm = vm_show("vm");
		EXPECT_EQ(jnum(vm, "ReplicationState"), 14);
		EXPECT_EQ(jnum(vm, "ReplicationHealth"), 1);
	}

	// A failback --wait of every disk in full, which completes.
	void full_failback()
	{
		CliRun r = ctl(
			{ "failback", "vm", "--settings", kFull, "--wait", "--timeout", "120" });
		ASSERT_EQ(r.rv, 0u) << r.out;
		expect_completed(r.obj("Job"));
	}

	// The next failback after job stopped: it completes, every disk resumed
	// from job's checkpoints, and the targets equal the images.
	void resumed_failback(const std::string &job)
	{
		CliRun r = ctl({ "failback", "vm", "--settings", R"({"change_source":"full"})",
				 "--wait", "--timeout", "120" });
		ASSERT_EQ(r.rv, 0u) << r.out;
		json_object *j = r.obj("Job");
		expect_completed(j, true);
		for (size_t i = 0; i < targets.size(); i++) {
			EXPECT_EQ(jstr(disk_of(j, i), "ResumedFrom"), job) << "disk " << i;
			EXPECT_TRUE(jbool(disk_of(j, i), "Resumed")) << "disk " << i;
		}
		expect_identical();
	}

	std::vector<std::string> targets, images, logs;
	std::vector<pid_t> servers;
};

TEST_F(ParallelDisks, TwoDisksCopiedConcurrently)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2, true));
	ASSERT_NO_FATAL_FAILURE(full_failback());
	EXPECT_TRUE(overlap(0, 1));
	expect_identical();
}

// The same observable tells the old order apart: one disk's writes all come
// before the other's.
TEST_F(ParallelDisks, SequentialSettingCopiesOneAfterTheOther)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2, true));
	ScopedEnv seq("RESYNCCTL_SEQUENTIAL_DISKS", "1");
	ASSERT_NO_FATAL_FAILURE(full_failback());
	EXPECT_FALSE(overlap(0, 1));
	expect_identical();
}

TEST_F(ParallelDisks, ThreeDisksCopiedConcurrently)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(3, true));
	ASSERT_NO_FATAL_FAILURE(full_failback());
	// A moment when all three servers were writing: the latest first write
	// comes before the earliest last one.
	double first = 0, last = 1e9;
	for (size_t i = 0; i < 3; i++) {
		std::vector<double> t = write_times(read_file(logs[i]));
		ASSERT_GT(t.size(), 8u);
		first = std::max(first, t.front());
		last = std::min(last, t.back());
	}
	EXPECT_LT(first, last);
	expect_identical();
}

// memory_limit divides between the disks, and each disk's run keeps to its
// share with everything it holds: 8 disks, 4 MiB, so 512 KiB each; requests
// keep their 64 KiB (one block), the depth goes from 16 to 7 since the
// plan's bitmaps take some bytes too (the engine reports what it held).
TEST_F(ParallelDisks, MemoryLimitSharedBetweenDisks)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(8, false));
	EXPECT_EQ(ctl({ "failback", "vm", "--settings", R"({"memory_limit":1048575})" }).rv,
		  32773u);
	CliRun r = ctl({ "failback", "vm", "--settings",
			 R"({"change_source":"full","memory_limit":4194304,"queue_depth":16,)"
			 R"("request_size":65536})",
			 "--wait", "--timeout", "120" });
	ASSERT_EQ(r.rv, 0u) << r.out;
	expect_completed(r.obj("Job"));
	std::string log = read_file(state + "/jobs/" + r.str("JobId") + "/log");
	const std::string tail = " bytes of buffers and tables, of its 524288\n";
	for (int i = 0; i < 8; i++) {
		std::string key = "disk d" + std::to_string(i) + ": ";
		size_t at = log.find(key), end = std::string::npos;
		for (; at != std::string::npos; at = log.find(key, at + 1)) {
			end = log.find_first_not_of("0123456789", at + key.size());
			if (end > at + key.size() && log.compare(end, tail.size(), tail) == 0)
				break;
		}
		ASSERT_NE(at, std::string::npos) << key << "reported nothing\n" << log;
		uint64_t used = std::stoull(log.substr(at + key.size(), end - at - key.size()));
		EXPECT_LE(used, 524288u) << key;
		EXPECT_EQ(used / 65536, 7u) << key << used;
	}
	expect_identical();
}

// A share that cannot hold one request beside the plan fails the job with
// 32778 (Out of memory) before anything is written: 8 disks, 1 MiB, so
// 128 KiB each; verifying holds two buffers per request, and even 64 KiB
// ones (a block, as small as requests go) leave no room for the bitmaps.
TEST_F(ParallelDisks, MemoryLimitTooSmallForOneRequestIs32778)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(8, false));
	CliRun r = ctl({ "failback", "vm", "--settings",
			 R"({"change_source":"full","verify":true,"memory_limit":1048576,)"
			 R"("request_size":131072,"queue_depth":16})",
			 "--wait", "--timeout", "120" });
	EXPECT_EQ(r.rv, 32778u) << r.out;
	json_object *j = r.obj("Job");
	ASSERT_NE(j, nullptr) << r.out;
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32778);
	EXPECT_NE(jstr(j, "ErrorDescription").find("memory limit 131072 cannot hold the plan"),
		  std::string::npos)
		<< jstr(j, "ErrorDescription");
	for (size_t i = 0; i < targets.size(); i++)
		EXPECT_TRUE(read_file(targets[i]) == std::string(kSize, '\0'))
			<< "disk " << i << " was written";
}

// The rate limit is the job's, not each disk's: the bytes of both disks
// together never run ahead of it (only an upper bound on the rate: a slow
// machine only helps), and both disks move while it holds.
TEST_F(ParallelDisks, RateLimitSharedBetweenDisks)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2, false));
	const int64_t rate = 4 << 20, request = 262144;
	std::string job = start(R"({"change_source":"full","rate_limit":4194304,)"
				R"("request_size":262144,"queue_depth":16})");
	json_object *mid = wait_job(
		job,
		[](json_object *o) {
			return jnum(o, "BytesCopied") >= (int64_t)kSize || jnum(o, "JobState") >= 7;
		},
		60000);
	ASSERT_EQ(jnum(mid, "JobState"), 4) << "the job ended before half of it was copied";
	EXPECT_GT(jnum(disk_of(mid, 0), "BytesCopied"), 0);
	EXPECT_GT(jnum(disk_of(mid, 1), "BytesCopied"), 0);
	CliRun w = ctl({ "job", "wait", job, "--timeout", "60" });
	ASSERT_EQ(w.rv, 0u) << w.out;
	json_object *j = job_show(job);
	expect_completed(j);
	// The group's bucket starts full with two requests' worth.
	double elapsed = (double)jnum(j, "ElapsedMilliseconds") / 1000.0;
	double least = (double)(2 * kSize - 2 * request) / (double)rate;
	EXPECT_GE(elapsed, least * 0.95) << "both disks together ran ahead of the rate limit";
	expect_identical();
}

// The server of one disk dies mid-copy: that disk fails with the job's
// ErrorCode, the other completes and is recorded consistent at the
// recovery point, and the VM stays in failback with health Critical.
TEST_F(ParallelDisks, OneServerKilledOtherDiskCompletes)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2, true, "1000ms"));
	std::string job =
		start(R"({"change_source":"full","request_size":16384,"queue_depth":16})");
	wait_job(job, [](json_object *o) { return jnum(disk_of(o, 0), "BytesCopied") > 0; });
	json_object *j = job_show(job);
	ASSERT_FALSE(jbool(disk_of(j, 0), "Completed")) << "disk 0 finished before the kill";
	ASSERT_EQ(kill(servers[0], SIGKILL), 0);
	CliRun w = ctl({ "job", "wait", job, "--timeout", "120" });
	EXPECT_EQ(w.rv, 32777u) << w.out;
	j = job_show(job);
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32777) << json_object_to_json_string(j);
	EXPECT_NE(jstr(j, "ErrorDescription").find("disk d0"), std::string::npos)
		<< jstr(j, "ErrorDescription");
	EXPECT_FALSE(jbool(disk_of(j, 0), "Completed"));
	EXPECT_TRUE(jbool(disk_of(j, 1), "Completed"));
	EXPECT_EQ(jnum(disk_of(j, 1), "BytesCopied"), (int64_t)kSize);
	EXPECT_EQ(read_file(targets[1]), read_file(images[1]));
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 13);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 3);
	EXPECT_TRUE(jbool(disk_of(vm, 0), "Inconsistent"));
	EXPECT_EQ(jstr(disk_of(vm, 0), "PrimaryHoldsRecoveryPoint"), "");
	EXPECT_FALSE(jbool(disk_of(vm, 1), "Inconsistent"));
	EXPECT_EQ(jstr(disk_of(vm, 1), "PrimaryHoldsRecoveryPoint"), "rp");
}

// Suspend holds every disk, resume moves them again, terminate stops all
// of them with each disk's checkpoint kept; the next failback resumes both.
TEST_F(ParallelDisks, SuspendResumeTerminateThenResumeIdentical)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2, false));
	std::string job = start(R"({"change_source":"full","rate_limit":2097152,)"
				R"("request_size":131072,"queue_depth":16})");
	wait_job(job, [](json_object *o) {
		return jnum(disk_of(o, 0), "BytesCopied") > 0 &&
		       jnum(disk_of(o, 1), "BytesCopied") > 0;
	});
	ASSERT_EQ(ctl({ "job", "suspend", job }).rv, 4096u);
	json_object *j = wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 5; });
	// Once the record says suspended, in-flight requests drain and their
	// progress reaches the record within a few progress periods (200 ms):
	// wait until four reads a second apart agree (a machine 3x slower still
	// saves several records in that span), then nothing may move.
	int64_t copied = -1;
	for (int i = 0, same = 0; i < 120 && same < 3; i++) {
		usleep(1000000);
		int64_t now = jnum(job_show(job), "BytesCopied");
		same = now == copied ? same + 1 : 0;
		copied = now;
	}
	usleep(2000000);
	j = job_show(job);
	EXPECT_EQ(jnum(j, "JobState"), 5);
	EXPECT_EQ(jnum(j, "BytesCopied"), copied) << "a suspended job copies nothing";
	EXPECT_LT(copied, (int64_t)(2 * kSize));
	ASSERT_EQ(ctl({ "job", "resume", job }).rv, 4096u);
	wait_job(job, [copied](json_object *o) {
		return jnum(o, "JobState") == 4 && jnum(o, "BytesCopied") > copied;
	});
	ASSERT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
	j = wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });
	EXPECT_EQ(jnum(j, "ErrorCode"), 0);
	EXPECT_LT(jnum(j, "PercentComplete"), 100);
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 13);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 2);
	EXPECT_TRUE(jbool(disk_of(vm, 0), "Inconsistent"));
	EXPECT_TRUE(jbool(disk_of(vm, 1), "Inconsistent"));

	ASSERT_NO_FATAL_FAILURE(resumed_failback(job));
}

// kill -9 of the worker while both disks copy: the job is failed with status
// unknown, and the next failback resumes every disk from its checkpoint.
TEST_F(ParallelDisks, KillNineThenFailbackResumesEveryDisk)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2, false));
	std::string job = start(R"({"change_source":"full","rate_limit":2097152,)"
				R"("request_size":131072,"queue_depth":16})");
	// A checkpoint is saved each second: wait until both disks are past
	// one interval's worth of data.
	json_object *j = wait_job(job, [](json_object *o) {
		return jnum(disk_of(o, 0), "BytesCopied") > 0 &&
		       jnum(disk_of(o, 1), "BytesCopied") > 0 &&
		       jnum(o, "ElapsedMilliseconds") > 1500;
	});
	ASSERT_EQ(jnum(j, "JobState"), 4);
	ASSERT_EQ(kill((pid_t)jnum(j, "WorkerPid"), SIGKILL), 0);
	j = wait_job(
		job, [](json_object *o) { return jnum(o, "JobState") == 10; }, 10000);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32771);
	ASSERT_NO_FATAL_FAILURE(resumed_failback(job));
}
