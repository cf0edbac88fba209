// SPDX-License-Identifier: MIT
// Attacks on the trust rules (doc/trust.md): lost store writes, re-registered
// recovery points, stale checkpoints, partial-disk jobs, change sources the
// engine would refuse, shared targets.  Whatever happens, no failback may end
// Completed with a target that differs from the chosen recovery point, and a
// refused call leaves the VM record byte for byte as it was.
#include "harness.h"
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <string>
extern "C" {
#include "resync/change_bitmap.h"
#include "resync/resync.h"
}

namespace {

json_object *disk_of(json_object *rec, size_t i)
{
	return json_object_array_get_idx(json_object_object_get(rec, "Disks"), i);
}

bool jbool(json_object *o, const char *key)
{
	return json_object_get_boolean(json_object_object_get(o, key));
}

// Byte-for-byte equality of two disk images; on failure names the first
// differing byte instead of diffing megabytes.
testing::AssertionResult same_bytes(const std::string &got, const std::string &want)
{
	if (got == want)
		return testing::AssertionSuccess();
	size_t i = 0;
	while (i < got.size() && i < want.size() && got[i] == want[i])
		i++;
	return testing::AssertionFailure() << "differ from byte " << i << " (sizes " << got.size()
					   << " and " << want.size() << ")";
}

std::string shim_path()
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "build/tests/shim/store_fault.so";
	self[n] = '\0';
	std::string p(self);
	return p.substr(0, p.rfind('/')) + "/shim/store_fault.so";
}

// While alive, every resyncctl the test starts runs with the store-fault
// shim: renames onto `name` fail with ENOSPC in the job's worker (never in
// the CLI), after `skip` successful ones.
struct StoreFault {
	StoreFault(const std::string &name, unsigned skip)
	{
		setenv("LD_PRELOAD", shim_path().c_str(), 1);
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
		setenv("RESYNC_FAULT_RENAME", name.c_str(), 1);
		setenv("RESYNC_FAULT_WORKER_ONLY", "1", 1);
		setenv("RESYNC_FAULT_SKIP", std::to_string(skip).c_str(), 1);
	}
	~StoreFault()
	{
		for (const char *v : { "LD_PRELOAD", "ASAN_OPTIONS", "RESYNC_FAULT_RENAME",
				       "RESYNC_FAULT_WORKER_ONLY", "RESYNC_FAULT_SKIP" })
			unsetenv(v);
	}
};

constexpr const char *kGen = "0123456789abcdef0123456789abcdef";

class Trust : public CtlTest {
protected:
	static constexpr size_t kSize = 16 << 20;

	void SetUp() override
	{
		CtlTest::SetUp();
		target = path("target.img");
		base = random_bytes(kSize, 5);
		write_file(target, base);
		ASSERT_EQ(ctl({ "vm", "add", "vm", "--disk",
				"d0=" + target + ",generation=" + kGen })
				  .rv,
			  0u);
	}
	// An image that differs from the base in `regions` 64 KiB pieces, spread
	// over the disk, and a consistent bitmap relative to kGen naming them.
	std::string make_rp_image(const std::string &name, uint32_t seed, int regions)
	{
		std::string img = base;
		resync_bitmap *b;
		EXPECT_EQ(resync_bitmap_new(&b, kSize, 65536), 0);
		for (int i = 0; i < regions; i++) {
			size_t off = (size_t)i * (kSize / regions);
			img.replace(off, 65536, random_bytes(65536, seed + (uint32_t)i));
			EXPECT_EQ(resync_bitmap_mark(b, off, 65536), 0);
		}
		uint8_t g[16];
		for (int i = 0; i < 16; i++)
			g[i] = (uint8_t)std::stoi(std::string(kGen + 2 * i, 2), nullptr, 16);
		resync_bitmap_set_generation(b, g);
		EXPECT_EQ(resync_bitmap_set_flags(b, RESYNC_BITMAP_F_CONSISTENT), 0);
		EXPECT_EQ(resync_bitmap_save(b, path(name + ".bmp").c_str()), 0);
		resync_bitmap_free(b);
		write_file(path(name + ".img"), img);
		return img;
	}
	void add_rp(const std::string &id, const std::string &name, int time)
	{
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", id, "--time", std::to_string(time),
				"--disk",
				"d0=" + path(name + ".img") + ",bitmap=" + path(name + ".bmp") })
				  .rv,
			  0u);
	}
	json_object *failback_wait(const std::string &rp, const std::string &settings = "",
				   uint32_t want = 0)
	{
		std::vector<std::string> a = { "failback", "vm", "--wait", "--timeout", "120" };
		if (!rp.empty())
			a.insert(a.end(), { "--recovery-point", rp });
		if (!settings.empty())
			a.insert(a.end(), { "--settings", settings });
		CliRun r = ctl(a);
		EXPECT_EQ(r.rv, want) << r.out << r.err;
		json_object *j = r.obj("Job");
		if (j)
			keep.push_back(json_object_get(j));
		return j;
	}
	// Starts a slow failback and ends it once it has written something.
	std::string start_then_terminate(const std::string &rp, const std::string &extra = "")
	{
		CliRun r =
			ctl({ "failback", "vm", "--recovery-point", rp, "--settings",
			      "{\"rate_limit\":1048576,\"request_size\":65536,\"queue_depth\":16" +
				      extra + "}" });
		EXPECT_EQ(r.rv, 4096u) << r.out;
		std::string job = r.str("JobId");
		json_object *j = wait_job(job, [](json_object *o) {
			return jnum(o, "BytesCopied") > 0 || jnum(o, "JobState") >= 7;
		});
		if (jnum(j, "JobState") < 7) {
			EXPECT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
		}
		wait_job(job, [](json_object *o) { return jnum(o, "JobState") >= 7; });
		return job;
	}
	std::string vm_record()
	{
		return read_file(state + "/vms/vm.json");
	}
	size_t job_count()
	{
		return json_object_array_length(ctl({ "job", "list" }).obj("Jobs"));
	}

	std::string target, base;
};

// Item 1: the store cannot record the target as inconsistent (ENOSPC on the
// VM record in the worker).  The job must fail before writing, so the old
// generation stays true, and a later failback to another point ends equal to
// that point.  Before the fix the worker logged and copied anyway: the
// target was half rp1 while recorded as holding kGen, and rp2's bitmap was
// trusted against it.
TEST_F(Trust, LostStoreWriteFailsTheJobBeforeItWrites)
{
	make_rp_image("rp1", 100, 64);
	std::string rp2 = make_rp_image("rp2", 200, 4);
	add_rp("rp1", "rp1", 1000);
	add_rp("rp2", "rp2", 2000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	std::string job;
	{
		StoreFault fault("vm.json", 0);
		job = start_then_terminate("rp1");
	}
	json_object *j = job_show(job);
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32768);
	EXPECT_NE(jstr(j, "ErrorDescription").find("No space left on device"), std::string::npos)
		<< jstr(j, "ErrorDescription");
	json_object *d = disk_of(vm_show("vm"), 0);
	EXPECT_TRUE(read_file(target) == base || jbool(d, "Inconsistent"))
		<< "the target was written while the VM record says it holds "
		<< jstr(d, "TargetGenerationId");
	EXPECT_TRUE(same_bytes(read_file(target), base))
		<< "nothing may be written before the record is durable";

	j = failback_wait("rp2");
	EXPECT_EQ(jnum(j, "JobState"), 7);
	EXPECT_TRUE(same_bytes(read_file(target), rp2))
		<< "Completed with a target that differs from rp2";
}

// Item 1, the later write: the start of the copy was recorded, the end
// cannot be.  The record keeps saying inconsistent, so the next failback to
// another point compares instead of trusting its bitmap.
TEST_F(Trust, LostFinalWriteLeavesTheTargetInconsistent)
{
	make_rp_image("rp1", 100, 64);
	std::string rp2 = make_rp_image("rp2", 200, 4);
	add_rp("rp1", "rp1", 1000);
	add_rp("rp2", "rp2", 2000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	{
		StoreFault fault("vm.json", 1);
		start_then_terminate("rp1");
	}
	json_object *d = disk_of(vm_show("vm"), 0);
	EXPECT_TRUE(jbool(d, "Inconsistent"));
	EXPECT_EQ(jstr(d, "TargetGenerationId"), "");

	json_object *j = failback_wait("rp2");
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");
	EXPECT_EQ(jstr(disk_of(j, 0), "TrustRule"), "inconsistent");
	EXPECT_TRUE(same_bytes(read_file(target), rp2));
}

// Item 2: job remove, recovery point removed and re-added under the same id
// with another image.  The old job's resume record must not be trusted: the
// binding names the old image, so the failback compares and ends equal to
// the new image.  Before the fix it copied by the stale bitmap.
TEST_F(Trust, ReRegisteredRecoveryPointIsNotResumed)
{
	make_rp_image("rp1", 100, 64);
	add_rp("rp1", "rp1", 1000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	std::string job = start_then_terminate("rp1");
	ASSERT_EQ(jnum(job_show(job), "JobState"), 8);
	ASSERT_EQ(ctl({ "job", "remove", job }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "remove", "vm", "rp1" }).rv, 0u);
	std::string other = random_bytes(kSize, 4242);
	write_file(path("other.img"), other);
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--time", "1000", "--disk",
			"d0=" + path("other.img") + ",bitmap=" + path("rp1.bmp") })
			  .rv,
		  0u);

	json_object *j = failback_wait("rp1");
	EXPECT_EQ(jnum(j, "JobState"), 7);
	EXPECT_EQ(jstr(disk_of(j, 0), "ResumedFrom"), "");
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");
	EXPECT_EQ(jstr(disk_of(j, 0), "TrustRule"), "inconsistent");
	EXPECT_NE(jstr(disk_of(j, 0), "TrustReason").find("recovery point changed"),
		  std::string::npos)
		<< jstr(disk_of(j, 0), "TrustReason");
	EXPECT_TRUE(same_bytes(read_file(target), other))
		<< "Completed with a target that is not the new image";
}

// Item 2, same id and same job folder: the image file replaced in place
// (new inode) between a terminated job and its resume.
TEST_F(Trust, ReplacedImageIsNotResumed)
{
	make_rp_image("rp1", 100, 64);
	add_rp("rp1", "rp1", 1000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	std::string job = start_then_terminate("rp1");
	ASSERT_EQ(jnum(job_show(job), "JobState"), 8);
	std::string other = random_bytes(kSize, 777);
	write_file(path("new.img"), other);
	ASSERT_EQ(rename(path("new.img").c_str(), path("rp1.img").c_str()), 0);

	json_object *j = failback_wait("rp1");
	EXPECT_EQ(jstr(disk_of(j, 0), "ResumedFrom"), "");
	EXPECT_EQ(jstr(disk_of(j, 0), "TrustRule"), "inconsistent");
	EXPECT_NE(jstr(disk_of(j, 0), "TrustReason").find("Image was"), std::string::npos)
		<< jstr(disk_of(j, 0), "TrustReason");
	EXPECT_TRUE(same_bytes(read_file(target), other));
}

// A terminated job on an unchanged recovery point resumes, and says which
// rule decided.
TEST_F(Trust, UnchangedRecoveryPointResumes)
{
	std::string rp1 = make_rp_image("rp1", 100, 64);
	add_rp("rp1", "rp1", 1000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	std::string job = start_then_terminate("rp1");
	ASSERT_EQ(jnum(job_show(job), "JobState"), 8);
	json_object *j = failback_wait("rp1");
	EXPECT_EQ(jstr(disk_of(j, 0), "ResumedFrom"), job);
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "bitmap");
	EXPECT_EQ(jstr(disk_of(j, 0), "TrustRule"), "resume");
	EXPECT_TRUE(same_bytes(read_file(target), rp1));
}

// Item 9: a bitmap whose granularity the engine cannot copy in is refused
// by InitiateFailback itself (32770), with nothing changed.
TEST_F(Trust, UnsupportedGranularityIsRefusedUpFront)
{
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, kSize, 128u << 20), 0);
	ASSERT_EQ(resync_bitmap_mark(b, 0, 4096), 0);
	uint8_t g[16];
	for (int i = 0; i < 16; i++)
		g[i] = (uint8_t)std::stoi(std::string(kGen + 2 * i, 2), nullptr, 16);
	resync_bitmap_set_generation(b, g);
	ASSERT_EQ(resync_bitmap_set_flags(b, RESYNC_BITMAP_F_CONSISTENT), 0);
	ASSERT_EQ(resync_bitmap_save(b, path("coarse.bmp").c_str()), 0);
	resync_bitmap_free(b);
	write_file(path("rp.img"), random_bytes(kSize, 9));
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk",
			"d0=" + path("rp.img") + ",bitmap=" + path("coarse.bmp") })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	std::string before = vm_record();
	for (const char *settings : { "", R"({"change_source":"bitmap"})" }) {
		std::vector<std::string> a = { "failback", "vm" };
		if (*settings)
			a.insert(a.end(), { "--settings", settings });
		CliRun r = ctl(a);
		EXPECT_EQ(r.rv, 32770u) << r.out;
		EXPECT_NE(r.str("ErrorDescription").find("granularity 134217728"), std::string::npos)
			<< r.out;
		EXPECT_EQ(vm_record(), before);
		EXPECT_EQ(job_count(), 0u);
	}
	EXPECT_TRUE(same_bytes(read_file(target), base));
}

// Item 14: an extent list the engine would refuse is refused up front, with
// its value, for change_source "extents" and for auto alike; nothing changes.
TEST_F(Trust, BadExtentListsAreRefusedUpFront)
{
	write_file(path("rp.img"), random_bytes(kSize, 9));
	struct Case {
		const char *what;
		std::string content; // "" : the file does not exist
		uint32_t rv;
	} cases[] = {
		{ "malformed", "0 65536\n4096 lots\n", 32773 },
		{ "past the end", "0 65536\n" + std::to_string(kSize - 4096) + " 8192\n", 32773 },
		{ "missing", "", 32779 },
	};
	int n = 0;
	for (auto &c : cases) {
		std::string id = "rp" + std::to_string(n++), ext = path(id + ".extents");
		if (!c.content.empty())
			write_file(ext, c.content);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", id, "--time", std::to_string(n),
				"--disk",
				"d0=" + path("rp.img") + ",extents=" + ext + ",base=" + kGen +
					",consistent" })
				  .rv,
			  0u);
		if (n == 1) {
			ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
		}
		std::string before = vm_record();
		for (const char *settings : { R"({"change_source":"extents"})", "" }) {
			std::vector<std::string> a = { "failback", "vm", "--recovery-point", id };
			if (*settings)
				a.insert(a.end(), { "--settings", settings });
			CliRun r = ctl(a);
			EXPECT_EQ(r.rv, c.rv) << c.what << " " << settings << ": " << r.out;
			EXPECT_NE(r.str("ErrorDescription").find("extent list"), std::string::npos)
				<< r.out;
			EXPECT_EQ(vm_record(), before) << c.what;
			EXPECT_EQ(job_count(), 0u) << c.what;
		}
	}
	EXPECT_TRUE(same_bytes(read_file(target), base));
}

// Item 14: a read-only block device target (losetup -r) is refused up front
// with 32769.
TEST_F(Trust, ReadOnlyBlockDeviceTargetIsRefused)
{
	std::string backing = path("ro-backing.img");
	write_file(backing, std::string(kSize, '\0'));
	struct ReadOnlyLoop {
		std::string dev;
		explicit ReadOnlyLoop(const std::string &file)
		{
			FILE *p = popen(("losetup -r -f --show '" + file + "' 2>/dev/null").c_str(),
					"r");
			char buf[64] = "";
			if (p && fgets(buf, sizeof(buf), p))
				dev.assign(buf, strcspn(buf, "\n"));
			if (p)
				pclose(p);
		}
		~ReadOnlyLoop()
		{
			if (!dev.empty() && system(("losetup -d " + dev).c_str()) != 0)
				fprintf(stderr, "losetup -d %s failed\n", dev.c_str());
		}
	} ro(backing);
	if (ro.dev.empty())
		GTEST_SKIP() << "no loop devices on this machine (losetup failed)";
	std::string loop = ro.dev;
	write_file(path("rp.img"), random_bytes(kSize, 9));
	ASSERT_EQ(ctl({ "vm", "add", "ro", "--disk", "d0=" + loop }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "ro", "rp", "--disk", "d0=" + path("rp.img") }).rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "ro" }).rv, 0u);
	std::string before = read_file(state + "/vms/ro.json");
	CliRun r = ctl({ "failback", "ro" });
	EXPECT_EQ(r.rv, 32769u) << r.out;
	EXPECT_NE(r.str("ErrorDescription").find("ead-only"), std::string::npos) << r.out;
	EXPECT_TRUE(same_bytes(read_file(state + "/vms/ro.json"), before));
	EXPECT_EQ(job_count(), 0u);
}

// Item 14: a job that failed while using its change record never traps
// auto into resuming that record: the next failback compares.
TEST_F(Trust, FailedChangeSourceDoesNotTrapAuto)
{
	std::string img = make_rp_image("rp1", 100, 8);
	std::string sock = path("nbd.sock"), trigger = path("fail-reads");
	write_file(trigger, "");
	pid_t srv =
		start_nbdkit(sock, { "--filter=error", "file", path("rp1.img"), "error-pread=EIO",
				     "error-pread-rate=1", "error-pread-file=" + trigger });
	if (srv < 0)
		GTEST_SKIP() << "nbdkit with the error filter is not available";
	std::string uri = "nbd+unix:///?socket=" + sock;
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk",
			"d0=" + uri + ",bitmap=" + path("rp1.bmp") })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *j = failback_wait("rp1", "", 32768);
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "bitmap");
	EXPECT_EQ(jnum(j, "JobState"), 10);
	ASSERT_EQ(unlink(trigger.c_str()), 0);

	j = failback_wait("rp1");
	EXPECT_EQ(jstr(disk_of(j, 0), "ChangeSource"), "compare");
	EXPECT_EQ(jstr(disk_of(j, 0), "TrustRule"), "inconsistent");
	EXPECT_NE(jstr(disk_of(j, 0), "TrustReason").find("failed while using"), std::string::npos)
		<< jstr(disk_of(j, 0), "TrustReason");
	EXPECT_TRUE(same_bytes(read_file(target), img));
	stop_process(srv);
}

// Item 3: a failback of some of the disks completes its job but not the
// VM's failback while another disk is still inconsistent.
TEST_F(Trust, PartialDiskFailbackKeepsTheVmInProgress)
{
	std::string t1 = path("t1.img");
	write_file(t1, random_bytes(kSize, 6));
	ASSERT_EQ(ctl({ "vm", "add", "two", "--disk", "d0=" + path("two0.img"), "--disk",
			"d1=" + t1 })
			  .rv,
		  0u);
	write_file(path("two0.img"), random_bytes(kSize, 7));
	std::string i0 = random_bytes(kSize, 8), i1 = random_bytes(kSize, 9);
	write_file(path("i0.img"), i0);
	write_file(path("i1.img"), i1);
	ASSERT_EQ(ctl({ "recovery-point", "add", "two", "rp", "--disk", "d0=" + path("i0.img"),
			"--disk", "d1=" + path("i1.img") })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "two" }).rv, 0u);
	// Both disks are written, then the job ends: both inconsistent.
	CliRun r = ctl({ "failback", "two", "--settings", R"({"rate_limit":1048576})" });
	ASSERT_EQ(r.rv, 4096u) << r.out;
	std::string job = r.str("JobId");
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 4; });
	EXPECT_EQ(ctl({ "job", "terminate", job }).rv, 4096u);
	wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 8; });

	r = ctl({ "failback", "two", "--wait", "--timeout", "120", "--settings",
		  R"({"disks":["d0"]})" });
	ASSERT_EQ(r.rv, 0u) << r.out;
	EXPECT_EQ(jnum(r.obj("Job"), "JobState"), 7);
	EXPECT_TRUE(same_bytes(read_file(path("two0.img")), i0));
	json_object *vm = vm_show("two");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 13) << "d1 is still inconsistent";
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 2);
	EXPECT_FALSE(jbool(disk_of(vm, 0), "Inconsistent"));
	EXPECT_TRUE(jbool(disk_of(vm, 1), "Inconsistent"));

	r = ctl({ "failback", "two", "--wait", "--timeout", "120", "--settings",
		  R"({"disks":["d1"]})" });
	ASSERT_EQ(r.rv, 0u) << r.out;
	EXPECT_TRUE(same_bytes(read_file(t1), i1));
	vm = vm_show("two");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 14);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 1);
}

// A bitmap that lies (it leaves out a block that changed) and is trusted by
// every rule: the default sample verification reads every block outside
// the plan here (256 at least), finds the difference, and the job compares
// the disk by itself, records why, and only then completes.
TEST_F(Trust, LyingBitmapIsCaughtAndCompared)
{
	std::string img = make_rp_image("rp1", 100, 4);
	img.replace(kSize / 2 + 3 * 65536, 65536, random_bytes(65536, 31337));
	write_file(path("rp1.img"), img);
	add_rp("rp1", "rp1", 1000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *j = failback_wait("rp1");
	EXPECT_EQ(jnum(j, "JobState"), 7);
	json_object *d = disk_of(j, 0);
	EXPECT_EQ(jstr(d, "FellBackFrom"), "bitmap");
	EXPECT_EQ(jstr(d, "ChangeSource"), "compare");
	EXPECT_EQ(jstr(d, "TrustRule"), "verify-mismatch");
	EXPECT_NE(jstr(d, "TrustReason").find("outside the plan"), std::string::npos)
		<< jstr(d, "TrustReason");
	EXPECT_TRUE(same_bytes(read_file(target), img)) << "Completed by a lying bitmap";
	std::string log = read_file(state + "/jobs/" + jstr(j, "InstanceID") + "/log");
	EXPECT_NE(log.find("not trusted any more (rule verify-mismatch)"), std::string::npos)
		<< log;
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 14);
	EXPECT_FALSE(jbool(disk_of(vm, 0), "Inconsistent"));
}

// The end of the job cannot be recorded (ENOSPC on the VM record's rename in
// the worker, after the start was): the record still says the target is
// inconsistent, so the job must not say Completed.  It ends in Exception
// with the store's failure, and the disk stays inconsistent.
TEST_F(Trust, UnsavedEndOfTheJobIsAnException)
{
	std::string img = make_rp_image("rp1", 100, 4);
	add_rp("rp1", "rp1", 1000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *j;
	{
		StoreFault fault("vm.json", 1);
		j = failback_wait("rp1", "", 32768);
	}
	ASSERT_NE(j, nullptr);
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32768);
	std::string why = jstr(j, "ErrorDescription");
	EXPECT_NE(why.find("updating VM vm: "), std::string::npos) << why;
	EXPECT_NE(why.find("No space left on device"), std::string::npos) << why;
	EXPECT_TRUE(jbool(disk_of(vm_show("vm"), 0), "Inconsistent"));
	EXPECT_TRUE(same_bytes(read_file(target), img));
}

// Two disks at once, one of which (d1, a lying bitmap) cannot record its
// fall-back to compare (ENOSPC on the VM record's rename): the job's
// ErrorCode and ErrorDescription are that disk's, both naming the failed
// update, not the code of one and the text of another failure.
TEST_F(Trust, FailedFallBackGivesItsOwnCodeAndReason)
{
	std::string t0 = path("t0.img"), t1 = path("t1.img");
	write_file(t0, base);
	write_file(t1, base);
	ASSERT_EQ(ctl({ "vm", "add", "two", "--disk", "d0=" + t0 + ",generation=" + kGen, "--disk",
			"d1=" + t1 + ",generation=" + kGen })
			  .rv,
		  0u);
	make_rp_image("rpa", 100, 4);
	std::string lie = make_rp_image("rpb", 200, 4);
	lie.replace(kSize / 2 + 3 * 65536, 65536, random_bytes(65536, 31337));
	write_file(path("rpb.img"), lie);
	ASSERT_EQ(ctl({ "recovery-point", "add", "two", "rp", "--time", "1000", "--disk",
			"d0=" + path("rpa.img") + ",bitmap=" + path("rpa.bmp"), "--disk",
			"d1=" + path("rpb.img") + ",bitmap=" + path("rpb.bmp") })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "two" }).rv, 0u);
	CliRun r;
	{
		StoreFault fault("two.json", 1);
		r = ctl({ "failback", "two", "--wait", "--timeout", "120" });
	}
	EXPECT_EQ(r.rv, 32768u) << r.out << r.err;
	json_object *j = r.obj("Job");
	ASSERT_NE(j, nullptr) << r.out;
	EXPECT_EQ(jnum(j, "JobState"), 10);
	EXPECT_EQ(jnum(j, "ErrorCode"), 32768);
	std::string why = jstr(j, "ErrorDescription");
	EXPECT_EQ(why.rfind("disk d1: falling back to compare: updating VM two: ", 0), 0u) << why;
	EXPECT_NE(why.find("No space left on device"), std::string::npos) << why;
}

// By default a copy by a change record verifies what it wrote and a sample
// outside the plan; the settings say how much.
TEST_F(Trust, DefaultSettingsVerifyACopyByChangeRecord)
{
	std::string img = make_rp_image("rp1", 100, 4);
	add_rp("rp1", "rp1", 1000);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *j = failback_wait("rp1");
	json_object *d = disk_of(j, 0);
	EXPECT_EQ(jstr(d, "ChangeSource"), "bitmap");
	EXPECT_EQ(jstr(d, "TrustRule"), "record-trusted");
	EXPECT_EQ(jnum(d, "BytesToCopy"), 4 * 65536);
	// Every one of the 256 blocks: 4 planned, 252 sampled (at least 256).
	EXPECT_EQ(jnum(d, "BytesVerified"), (int64_t)kSize);
	json_object *set = json_object_object_get(j, "Settings");
	EXPECT_EQ(jnum(set, "verify_sample_per_gib"), 16);
	EXPECT_EQ(jnum(set, "verify_sample_min"), 256);
	EXPECT_TRUE(same_bytes(read_file(target), img));
}

// Item 13: two disks naming one target under two names are refused.
TEST_F(Trust, TwoDisksOneTargetAreRefused)
{
	ASSERT_EQ(symlink(target.c_str(), path("alias.img").c_str()), 0);
	CliRun r = ctl({ "vm", "add", "y", "--disk", "a=" + path("y.img"), "--disk",
			 "b=" + path("alias.img") });
	EXPECT_EQ(r.rv, 32773u) << r.out;
	EXPECT_NE(r.str("ErrorDescription").find("also disk \"d0\" of VM \"vm\""), std::string::npos)
		<< r.out;
	write_file(path("z.img"), "");
	ASSERT_EQ(symlink(path("z.img").c_str(), path("z-alias.img").c_str()), 0);
	r = ctl({ "vm", "add", "z", "--disk", "a=" + path("z.img"), "--disk",
		  "b=" + path("z-alias.img") });
	EXPECT_EQ(r.rv, 32773u) << r.out;
	EXPECT_NE(r.str("ErrorDescription").find("name the same target"), std::string::npos)
		<< r.out;
}

// Item 13 at failback: a store written before vm add checked targets (here
// by hand) where another VM names this VM's target: refused, nothing changed.
TEST_F(Trust, FailbackRefusesATargetAnotherVmNames)
{
	write_file(path("rp.img"), random_bytes(kSize, 9));
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk", "d0=" + path("rp.img") }).rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	ASSERT_EQ(symlink(target.c_str(), path("alias.img").c_str()), 0);
	std::string other = vm_record();
	size_t at = other.find("\"Name\":\"vm\"");
	ASSERT_NE(at, std::string::npos) << other;
	other.replace(at, 11, "\"Name\":\"old\"");
	at = other.find(target);
	other.replace(at, target.size(), path("alias.img"));
	write_file(state + "/vms/old.json", other);
	std::string before = vm_record();
	CliRun r = ctl({ "failback", "vm" });
	EXPECT_EQ(r.rv, 32773u) << r.out;
	EXPECT_NE(r.str("ErrorDescription").find("of VM \"old\""), std::string::npos) << r.out;
	EXPECT_EQ(vm_record(), before);
	EXPECT_EQ(job_count(), 0u);
	EXPECT_TRUE(same_bytes(read_file(target), base));
}

} // namespace
