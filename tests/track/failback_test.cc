// SPDX-License-Identifier: MIT
// Failback by a tracking log, end to end with the real pieces: resyncctl
// (its own binary, its own state store), nbdkit serving the recovery VM's
// disk through the built filter, a libnbd client writing as the VM would.
// failover --track records the log and the target's generation as its base;
// a recovery point added afterwards names the log; failback copies exactly
// the blocks the log names (clean), or their hot regions too (nbdkit killed
// -9), and the target ends byte for byte equal to the image.  A log of
// another generation, a corrupted log or one of another disk size (both left
// untouched) and a missing one all send failback to compare, with the rule
// and reason in the job record.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libnbd.h>
#include <unistd.h>
#include <cstring>
#include "harness.h"

namespace {

constexpr uint64_t kSize = 32ull << 20;
constexpr uint64_t kGran = 64 << 10;
constexpr uint64_t kRegion = 1 << 20;
constexpr const char *kGen = "0123456789abcdef0123456789abcdef";
constexpr const char *kOther = "fedcba9876543210fedcba9876543210";

// What a resyncctl call printed with --json.
struct Out {
	int status = -1;
	std::string text;
	json_object *json = nullptr;
	Out() = default;
	Out(const Out &) = delete;
	Out &operator=(const Out &) = delete;
	~Out()
	{
		json_object_put(json);
	}
	int64_t rv() const
	{
		json_object *v;
		return json && json_object_object_get_ex(json, "ReturnValue", &v) ?
			       json_object_get_int64(v) :
			       -1;
	}
};

// The value at a path of keys and array indexes ("Disks", 0, "Name").
struct Key {
	const char *key;
	size_t idx;
	Key(const char *k) : key(k), idx(0)
	{
	}
	Key(int i) : key(nullptr), idx((size_t)i)
	{
	}
};
json_object *at(json_object *o, std::initializer_list<Key> path)
{
	for (const Key &k : path) {
		if (!o)
			return nullptr;
		o = k.key ? json_object_object_get(o, k.key) : json_object_array_get_idx(o, k.idx);
	}
	return o;
}
std::string str(json_object *o, std::initializer_list<Key> path)
{
	json_object *v = at(o, path);
	return v ? json_object_get_string(v) : "(absent)";
}
int64_t num(json_object *o, std::initializer_list<Key> path)
{
	json_object *v = at(o, path);
	return v ? json_object_get_int64(v) : -1;
}

class TrackFailback : public ::testing::Test {
protected:
	rt::TempDir d;
	std::string state = d.path("state"), target = d.path("primary.img"),
		    image = d.path("recovery-vm.img"), log = d.path("web01-disk0.rbm");

	void SetUp() override
	{
		rt::Bytes data = rt::random_bytes(kSize, 12);
		rt::write_file(target, data);
		rt::write_file(image, data);
		ASSERT_EQ(ctl({ "vm", "add", "web01", "--disk",
				"disk0=" + target + ",generation=" + kGen })
				  ->rv(),
			  0);
		ASSERT_EQ(ctl({ "recovery-point", "add", "web01", "rp0", "--disk", "disk0=" + image,
				"--time", "1000" })
				  ->rv(),
			  0);
	}

	std::unique_ptr<Out> ctl(const std::vector<std::string> &args)
	{
		std::string cmd = rt::bin_dir() + "/resyncctl --state-dir " + state + " --json";
		for (const auto &a : args)
			cmd += " '" + a + "'";
		auto o = std::make_unique<Out>();
		o->status = rt::sh("{ " + cmd + " 2>/dev/null; }", &o->text);
		o->json = json_tokener_parse(o->text.c_str());
		EXPECT_NE(o->json, nullptr) << cmd << "\n" << o->text;
		return o;
	}

	void failover()
	{
		auto o = ctl({ "failover", "web01", "--track", "disk0=" + log });
		ASSERT_EQ(o->rv(), 0) << o->text;
	}

	// The recovery VM's writes: six 64 KiB blocks in five 1 MiB regions.
	void vm_writes(trk::Nbdkit &srv)
	{
		struct nbd_handle *h = nbd_create();
		ASSERT_NE(h, nullptr);
		ASSERT_EQ(nbd_connect_uri(h, srv.uri().c_str()), 0) << nbd_get_error();
		std::vector<char> buf(128 << 10, 'w');
		EXPECT_EQ(nbd_pwrite(h, buf.data(), 64 << 10, 0, 0), 0);
		EXPECT_EQ(nbd_pwrite(h, buf.data(), 128 << 10, (3 << 20) + (64 << 10), 0), 0);
		EXPECT_EQ(nbd_pwrite(h, buf.data(), 64 << 10, 10 << 20, LIBNBD_CMD_FLAG_FUA), 0);
		EXPECT_EQ(nbd_pwrite(h, buf.data(), 8 << 10, (20 << 20) + 4096, 0), 0);
		EXPECT_EQ(nbd_zero(h, 64 << 10, 30 << 20, 0), 0);
		nbd_close(h);
	}
	static constexpr uint64_t kWrittenBlocks = 6, kWrittenRegions = 5;

	std::vector<std::string> serve_args(const char *gen = kGen)
	{
		return { "granularity=" + std::to_string(kGran),
			 "region=" + std::to_string(kRegion), "generation=" + std::string(gen),
			 "idle=100" };
	}

	enum class Stop { Clean, Kill9 };
	// failover --track, then the recovery VM's writes through a server that
	// tracks them for generation gen and stops cleanly or is killed -9.
	void track_vm_writes(Stop how = Stop::Clean, const char *gen = kGen)
	{
		ASSERT_NO_FATAL_FAILURE(failover());
		trk::Nbdkit srv(d, image, log, serve_args(gen));
		ASSERT_TRUE(srv.ok()) << srv.log();
		vm_writes(srv);
		if (how == Stop::Kill9)
			srv.kill9();
		else
			ASSERT_EQ(srv.stop(), 0) << srv.log();
	}

	// Recovery point rp1 of the image; with name_log its disk names the log.
	void add_point(bool name_log = false)
	{
		std::string disk = "disk0=" + image + (name_log ? ",track=" + log : "");
		ASSERT_EQ(ctl({ "recovery-point", "add", "web01", "rp1", "--disk", disk })->rv(),
			  0);
	}

	// A failback that completed: the VM is failed back, the target is the image.
	void expect_failed_back()
	{
		EXPECT_EQ(vm_state(), 14);
		EXPECT_EQ(rt::read_file(target), rt::read_file(image));
	}

	// failback --wait; the job record afterwards.
	json_object *failback(int64_t want_rv, const std::string &settings = "")
	{
		std::vector<std::string> a = { "failback", "web01", "--wait" };
		if (!settings.empty()) {
			a.push_back("--settings");
			a.push_back(settings);
		}
		auto o = ctl(a);
		EXPECT_EQ(o->rv(), want_rv) << o->text;
		if (want_rv != 0)
			return nullptr;
		auto j = ctl({ "job", "show", str(o->json, { "JobId" }) });
		job_ = json_object_get(at(j->json, { "Job" }));
		return job_;
	}

	int64_t vm_state()
	{
		auto o = ctl({ "vm", "show", "web01" });
		return num(o->json, { "Vm", "ReplicationState" });
	}

	void TearDown() override
	{
		json_object_put(job_);
	}
	json_object *job_ = nullptr;
};

TEST_F(TrackFailback, FailoverRecordsTheLogAndTheTargetsGenerationAsBase)
{
	auto o = ctl({ "failover", "web01", "--track", "disk0=" + log });
	ASSERT_EQ(o->rv(), 0) << o->text;
	EXPECT_EQ(str(o->json, { "TrackingLogs", 0, "Disk" }), "disk0");
	EXPECT_EQ(str(o->json, { "TrackingLogs", 0, "Path" }), log);
	EXPECT_EQ(str(o->json, { "TrackingLogs", 0, "BaseGenerationId" }), kGen);
	auto vm = ctl({ "vm", "show", "web01" });
	EXPECT_EQ(num(vm->json, { "Vm", "ReplicationState" }), 5);
	EXPECT_EQ(str(vm->json, { "Vm", "Disks", 0, "TrackingLog", "Path" }), log);
	EXPECT_EQ(str(vm->json, { "Vm", "Disks", 0, "TrackingLog", "BaseGenerationId" }), kGen);

	// A recovery point added now names the log for the disk.
	ASSERT_NO_FATAL_FAILURE(add_point());
	auto rp = ctl({ "recovery-point", "show", "web01", "rp1" });
	EXPECT_EQ(str(rp->json, { "RecoveryPoint", "Disks", 0, "ChangeRecord", "Kind" }), "track");
	EXPECT_EQ(str(rp->json, { "RecoveryPoint", "Disks", 0, "ChangeRecord", "Path" }), log);

	// A failover without --track forgets it.
	ASSERT_EQ(ctl({ "failover", "web01" })->rv(), 0);
	auto vm2 = ctl({ "vm", "show", "web01" });
	EXPECT_EQ(at(vm2->json, { "Vm", "Disks", 0, "TrackingLog" }), nullptr);
}

TEST_F(TrackFailback, FailoverRefusesTracksItCannotRecord)
{
	std::string before = rt::sha256(state + "/vms/web01.json");
	auto unknown = ctl({ "failover", "web01", "--track", "disk9=" + log });
	EXPECT_EQ(unknown->rv(), 32773);
	EXPECT_EQ(str(unknown->json, { "ErrorDescription" }), "--track: VM has no disk \"disk9\"");
	auto twice = ctl({ "failover", "web01", "--track", "disk0=" + log, "--track",
			   "disk0=" + log + "2" });
	EXPECT_EQ(twice->rv(), 32773);
	EXPECT_EQ(ctl({ "failover", "web01", "--commit", "--track", "disk0=" + log })->rv(), 32773);
	EXPECT_EQ(rt::sha256(state + "/vms/web01.json"), before);

	// A target without a recorded generation gives a log no base.
	std::string t2 = d.path("t2.img");
	rt::write_file(t2, rt::random_bytes(kSize, 2));
	ASSERT_EQ(ctl({ "vm", "add", "db01", "--disk", "disk0=" + t2 })->rv(), 0);
	ASSERT_EQ(ctl({ "recovery-point", "add", "db01", "rp0", "--disk", "disk0=" + image })->rv(),
		  0);
	auto nogen = ctl({ "failover", "db01", "--track", "disk0=" + log });
	EXPECT_EQ(nogen->rv(), 32773);
	EXPECT_EQ(str(nogen->json, { "ErrorDescription" }),
		  "--track disk0: the target has no recorded generation, so a tracking log "
		  "would have no base (vm add --disk disk0=TARGET,generation=HEX records one)");
	auto vm = ctl({ "vm", "show", "db01" });
	EXPECT_EQ(num(vm->json, { "Vm", "ReplicationState" }), 3);
}

TEST_F(TrackFailback, CleanLogCopiesOnlyTheTrackedBlocks)
{
	ASSERT_NO_FATAL_FAILURE(track_vm_writes());
	ASSERT_NO_FATAL_FAILURE(add_point());
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(num(job, { "ErrorCode" }), 0);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "bitmap");
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSourceArg" }), log);
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-trusted");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }),
		  "track change record is consistent and its generation matches the target");
	EXPECT_EQ(num(job, { "BytesToCopy" }), (int64_t)(kWrittenBlocks * kGran));
	EXPECT_EQ(num(job, { "BytesCopied" }), (int64_t)(kWrittenBlocks * kGran));
	expect_failed_back();

	// The failback is complete: the log is spent, a new point gets no default.
	ASSERT_EQ(ctl({ "recovery-point", "add", "web01", "rp2", "--disk", "disk0=" + image })->rv(),
		  0);
	auto rp = ctl({ "recovery-point", "show", "web01", "rp2" });
	EXPECT_EQ(at(rp->json, { "RecoveryPoint", "Disks", 0, "ChangeRecord" }), nullptr);
}

TEST_F(TrackFailback, KilledServersLogIsTrustedWithItsHotRegions)
{
	ASSERT_NO_FATAL_FAILURE(track_vm_writes(Stop::Kill9));
	ASSERT_NO_FATAL_FAILURE(add_point());
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "bitmap");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-recovered");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }),
		  "track change record was left open (its server stopped without a clean close, "
		  "or still runs): its 5 hot regions are counted as written (an "
		  "over-approximation), and its generation matches the target");
	EXPECT_EQ(num(job, { "BytesToCopy" }), (int64_t)(kWrittenRegions * kRegion));
	expect_failed_back();
}

TEST_F(TrackFailback, RestartedServersRecoveredLogIsTrusted)
{
	ASSERT_NO_FATAL_FAILURE(track_vm_writes(Stop::Kill9));
	{
		trk::Nbdkit srv(d, image, log, serve_args());
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(srv.stop(), 0) << srv.log();
	}
	ASSERT_NO_FATAL_FAILURE(add_point());
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-recovered");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }),
		  "track change record was recovered after an unclean close: its 5 hot regions "
		  "are counted as written (an over-approximation), and its generation matches "
		  "the target");
	EXPECT_EQ(num(job, { "BytesToCopy" }), (int64_t)(kWrittenRegions * kRegion));
	expect_failed_back();
}

TEST_F(TrackFailback, LogOfAnotherGenerationMeansCompare)
{
	ASSERT_NO_FATAL_FAILURE(track_vm_writes(Stop::Clean, kOther));
	ASSERT_NO_FATAL_FAILURE(add_point(true));
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "compare");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "generation-mismatch");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }),
		  std::string("generation mismatch: change record is relative to ") + kOther +
			  ", target holds " + kGen);
	expect_failed_back();
}

TEST_F(TrackFailback, CorruptedLogMeansCompareAndIsLeftAlone)
{
	ASSERT_NO_FATAL_FAILURE(track_vm_writes());
	// One flipped bit in the first body block: its checksum fails, in a
	// closed log, where no torn write can excuse it.
	struct rc_track t;
	ASSERT_EQ(trk::read_log(log, &t), 0);
	uint64_t off = rc_track_block_offset(&t, 0) + 100;
	rc_track_fini(&t);
	int fd = open(log.c_str(), O_RDWR);
	ASSERT_GE(fd, 0);
	char c;
	ASSERT_EQ(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 1;
	ASSERT_EQ(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
	std::string why;
	ASSERT_NE(trk::read_log(log, &t, &why), 0);
	std::string sum = rt::sha256(log);

	ASSERT_NO_FATAL_FAILURE(add_point());
	// Asked for explicitly, the record is refused with nothing changed.
	EXPECT_EQ(failback(32773, "{\"change_source\": \"bitmap\"}"), nullptr);
	EXPECT_EQ(vm_state(), 5);
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "compare");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-unusable");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }), "tracking log " + log + ": " + why);
	expect_failed_back();
	EXPECT_EQ(rt::sha256(log), sum);
}

TEST_F(TrackFailback, MissingLogMeansCompareOr32779WhenAskedFor)
{
	failover();
	// The server never ran: no log.  The image still differs from the target.
	rt::pwrite_at(image, 5 << 20, rt::random_bytes(4096, 99));
	ASSERT_NO_FATAL_FAILURE(add_point());
	std::string before = rt::sha256(state + "/vms/web01.json");
	EXPECT_EQ(failback(32779, "{\"change_source\": \"bitmap\"}"), nullptr);
	EXPECT_EQ(rt::sha256(state + "/vms/web01.json"), before);
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "compare");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-unusable");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }),
		  "tracking log " + log + ": No such file or directory");
	expect_failed_back();
}

TEST_F(TrackFailback, LogOfAnotherDiskSizeMeansCompare)
{
	failover();
	std::string other = d.path("other.img");
	rt::write_file(other, rt::random_bytes(kSize / 2, 3));
	{
		trk::Nbdkit srv(d, other, log, serve_args());
		ASSERT_TRUE(srv.ok()) << srv.log();
		ASSERT_EQ(srv.stop(), 0) << srv.log();
	}
	rt::pwrite_at(image, 7 << 20, rt::random_bytes(4096, 7));
	ASSERT_NO_FATAL_FAILURE(add_point());
	std::string sum = rt::sha256(log);
	json_object *job = failback(0);
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "compare");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-unusable");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustReason" }),
		  "tracking log " + log + " covers " + std::to_string(kSize / 2) +
			  " bytes, the disk has " + std::to_string(kSize));
	EXPECT_EQ(rt::read_file(target), rt::read_file(image));
	EXPECT_EQ(rt::sha256(log), sum);
}

TEST_F(TrackFailback, ExplicitBitmapSourceUsesATrustedLog)
{
	ASSERT_NO_FATAL_FAILURE(track_vm_writes());
	ASSERT_NO_FATAL_FAILURE(add_point(true));
	json_object *job = failback(0, "{\"change_source\": \"bitmap\"}");
	ASSERT_NE(job, nullptr);
	EXPECT_EQ(num(job, { "JobState" }), 7);
	EXPECT_EQ(str(job, { "Disks", 0, "ChangeSource" }), "bitmap");
	EXPECT_EQ(str(job, { "Disks", 0, "TrustRule" }), "record-trusted");
	EXPECT_EQ(num(job, { "BytesToCopy" }), (int64_t)(kWrittenBlocks * kGran));
	EXPECT_EQ(rt::read_file(target), rt::read_file(image));
}

TEST_F(TrackFailback, TrackOptionTakesNoBaseOrConsistent)
{
	auto o = ctl({ "recovery-point", "add", "web01", "rp1", "--disk",
		       "disk0=" + image + ",track=" + log + ",base=" + kGen });
	EXPECT_EQ(o->rv(), 32773);
	const char *why = "--disk disk0: a tracking log's header carries its base generation and "
			  "state: track= takes no base= or consistent";
	EXPECT_EQ(str(o->json, { "ErrorDescription" }), why);
	auto c = ctl({ "recovery-point", "add", "web01", "rp1", "--disk",
		       "disk0=" + image + ",track=" + log + ",consistent" });
	EXPECT_EQ(c->rv(), 32773);
	EXPECT_EQ(str(c->json, { "ErrorDescription" }), why);
	auto added = ctl({ "recovery-point", "add", "web01", "rp1", "--disk",
			   "disk0=" + image + ",track=" + log });
	ASSERT_EQ(added->rv(), 0);
	auto show = ctl({ "recovery-point", "show", "web01", "rp1" });
	EXPECT_EQ(str(show->json, { "RecoveryPoint", "Disks", 0, "ChangeRecord", "Kind" }),
		  "track");
	EXPECT_EQ(str(show->json, { "RecoveryPoint", "Disks", 0, "ChangeRecord", "Path" }), log);
}

} // namespace
