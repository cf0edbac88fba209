// SPDX-License-Identifier: MIT
// JSON schema 2 (NEWS): a compare failback reports the bytes it wrote apart
// from the equal bytes it only examined, so BytesWritten is exactly the
// bytes that differed; once complete the VM says which point the primary
// holds and is no longer FailedOverTo the failover's point.
#include "harness.h"

namespace {

class Schema : public CtlTest {};

TEST_F(Schema, CompareReportsWrittenApartFromEqual)
{
	const size_t mib = 1 << 20, size = 16 * mib;
	std::string base = random_bytes(size, 11), image = base;
	// Three whole MiB differ (fresh random data, no zeroes to speak of);
	// the rest is equal on both sides.
	for (size_t at : { 1 * mib, 7 * mib, 12 * mib })
		image.replace(at, mib, random_bytes(mib, (uint32_t)at));
	add_vm("vm", size);
	write_file(path("vm-target.img"), base);
	write_file(path("rp1.img"), image);
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk", "d0=" + path("rp1.img") })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jstr(vm, "FailedOverTo"), "rp1");
	EXPECT_EQ(jstr(vm, "PrimaryHoldsRecoveryPoint"), "");
	CliRun r = ctl({ "failback", "vm", "--settings",
			 R"({"change_source":"compare","verify":false})", "--wait", "--timeout",
			 "120" });
	ASSERT_EQ(r.rv, 0u) << r.out;
	json_object *j = r.obj("Job");
	ASSERT_NE(j, nullptr) << r.out;
	EXPECT_EQ(jnum(j, "JobState"), 7);
	EXPECT_EQ(jnum(j, "BytesWritten"), (int64_t)(3 * mib)) << r.out;
	EXPECT_EQ(jnum(j, "BytesZeroed"), 0) << r.out;
	EXPECT_EQ(jnum(j, "BytesSkippedEqual"), (int64_t)(size - 3 * mib)) << r.out;
	EXPECT_EQ(jnum(j, "BytesExamined"), (int64_t)size) << r.out;
	EXPECT_EQ(jnum(j, "BytesCopied"), jnum(j, "BytesExamined"));
	EXPECT_EQ(read_file(path("vm-target.img")), image);
	// The failback completed: the primary holds rp1, the VM is no longer
	// failed over.
	vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 14);
	EXPECT_EQ(jstr(vm, "FailedOverTo"), "");
	EXPECT_EQ(jstr(vm, "PrimaryHoldsRecoveryPoint"), "rp1");
	EXPECT_EQ(jstr(json_object_array_get_idx(json_object_object_get(vm, "Disks"), 0),
		       "PrimaryHoldsRecoveryPoint"),
		  "rp1");
}

} // namespace
