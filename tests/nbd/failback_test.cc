// SPDX-License-Identifier: MIT
// Failback from a qemu recovery point: a qcow2 with a persistent dirty bitmap
// exported by qemu-nbd -B; only the dirty extents reach the target, which then
// equals the recovery point byte for byte.
#include <gtest/gtest.h>
#include <resync/resync.h>
#include "servers.h"

namespace {

constexpr uint64_t MiB = 1 << 20, KiB = 1 << 10;
constexpr uint64_t kSize = 8 * MiB;

// What the recovery VM wrote after the bitmap was added; qemu-io syntax.
struct Write {
	const char *cmd;
	uint64_t off, len;
	int pattern; // -1: write zeroes
};
const Write kWrites[] = {
	{ "write -P 0xaa 1048576 65536", 1 * MiB, 64 * KiB, 0xaa },
	// Inside one 64 KiB bitmap granule: the whole granule is dirty.
	{ "write -P 0xbb 3149824 8192", 3 * MiB + 4 * KiB, 8 * KiB, 0xbb },
	{ "write -z 5242880 131072", 5 * MiB, 128 * KiB, -1 },
	{ "write -P 0xcc 8388096 512", kSize - 512, 512, 0xcc },
};
// The granules those writes dirtied.
constexpr uint64_t kDirty = 64 * KiB + 64 * KiB + 128 * KiB + 64 * KiB;

class Failback : public ::testing::Test {
protected:
	void SetUp() override
	{
		base_ = rt::random_bytes(kSize, 42);
		expect_ = base_;
		for (const auto &w : kWrites)
			for (uint64_t i = 0; i < w.len; i++)
				expect_[w.off + i] = w.pattern < 0 ? 0 : (uint8_t)w.pattern;
		// The old primary (the failback target) still holds the base.
		primary_ = tmp_.path("primary.img");
		rt::write_file(primary_, base_);
		rp_ = tmp_.path("rp.qcow2");
		ASSERT_EQ(nbdt::run({ "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
				      primary_, rp_ }),
			  0);
		ASSERT_EQ(nbdt::run({ "qemu-img", "bitmap", "--add", rp_, "b0" }), 0);
		std::vector<std::string> io = { "qemu-io", "-f", "qcow2" };
		for (const auto &w : kWrites) {
			io.push_back("-c");
			io.push_back(w.cmd);
		}
		io.push_back(rp_);
		std::string out;
		ASSERT_EQ(nbdt::run(io, &out), 0) << out;
		qemu_ = nbdt::qemu_nbd(tmp_, "rp", { "-r", "-f", "qcow2", "-B", "b0", rp_ });
		ASSERT_TRUE(qemu_->ok()) << qemu_->log();
	}

	rt::TempDir tmp_;
	rt::Bytes base_, expect_;
	std::string primary_, rp_;
	std::unique_ptr<nbdt::Server> qemu_;
};

TEST_F(Failback, DirtyBitmapOntoRawFileWritesOnlyDirtyExtents)
{
	auto res = nbdt::copy(qemu_->uri(), primary_, RESYNC_NBD_DIRTY, "b0");
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(primary_), expect_);
	EXPECT_EQ(res.st.bytes_planned, kDirty);
	EXPECT_EQ(res.st.bytes_written + res.st.bytes_zeroed, kDirty);
	// The zeroed clusters are known zero from base:allocation: not read.
	EXPECT_EQ(res.st.bytes_zeroed, 128 * KiB);
	EXPECT_EQ(res.st.bytes_read, kDirty - 128 * KiB);
}

TEST_F(Failback, DirtyBitmapOntoNbdkitExport)
{
	auto target = nbdt::nbdkit(tmp_, "primary", { "file", primary_ });
	ASSERT_TRUE(target->ok()) << target->log();
	auto res = nbdt::copy(qemu_->uri(), target->uri(), RESYNC_NBD_DIRTY, "b0");
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(target->uri()), expect_);
	EXPECT_EQ(res.st.bytes_written + res.st.bytes_zeroed, kDirty);
	target->stop();
	EXPECT_EQ(rt::read_file(primary_), expect_);
}

TEST_F(Failback, FullContextNameIsAccepted)
{
	auto res = nbdt::copy(qemu_->uri(), primary_, RESYNC_NBD_DIRTY, "qemu:dirty-bitmap:b0");
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(primary_), expect_);
}

TEST_F(Failback, FullCopyOfTheSameImageWritesEverything)
{
	auto res = nbdt::copy(qemu_->uri(), primary_, RESYNC_FULL);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(primary_), expect_);
	EXPECT_EQ(res.st.bytes_planned, kSize);
	EXPECT_EQ(res.st.bytes_written + res.st.bytes_zeroed + res.st.bytes_skipped_zero, kSize);
}

TEST_F(Failback, AbsentBitmapIsNotSupportedAndListsTheOffer)
{
	auto res = nbdt::copy(qemu_->uri(), primary_, RESYNC_NBD_DIRTY, "nope");
	EXPECT_EQ(res.ret, -ENOTSUP);
	EXPECT_NE(res.error.find("does not offer qemu:dirty-bitmap:nope"), std::string::npos)
		<< res.error;
	EXPECT_NE(res.error.find("base:allocation"), std::string::npos) << res.error;
	EXPECT_NE(res.error.find("qemu:dirty-bitmap:b0"), std::string::npos) << res.error;
	EXPECT_EQ(res.st.bytes_written + res.st.bytes_zeroed, 0u);
	EXPECT_EQ(rt::read_file(primary_), base_);
}

TEST_F(Failback, ExportNotFound)
{
	auto res = nbdt::copy(qemu_->uri("other"), primary_, RESYNC_NBD_DIRTY, "b0");
	EXPECT_EQ(res.ret, -ENOENT);
	EXPECT_NE(res.error.find("source " + qemu_->uri("other") + ": "), std::string::npos)
		<< res.error;
	EXPECT_NE(res.error.find("other"), std::string::npos) << res.error;
	EXPECT_EQ(rt::read_file(primary_), base_);
}

TEST_F(Failback, ReadOnlyExportAsTargetIsRefusedBeforeAnyWrite)
{
	auto res = nbdt::copy(primary_, qemu_->uri(), RESYNC_FULL);
	EXPECT_EQ(res.ret, -EROFS);
	EXPECT_EQ(res.error, "target " + qemu_->uri() + ": the export is read-only");
	EXPECT_EQ(res.st.bytes_read, 0u);
}

// resync_nbd_dirty_extents(): the same bitmap read outside a run, as
// resync-bitmap does through the public API.
struct Walk {
	uint64_t size = 0;
	int size_calls = 0;
	std::vector<std::pair<uint64_t, uint64_t>> extents;
	int stop_after = -1; // return -EIO from this extent on
	int size_err = 0;
};

static int walk_size(void *arg, uint64_t size)
{
	auto *w = static_cast<Walk *>(arg);
	w->size = size;
	w->size_calls++;
	return w->size_err;
}

static int walk_extent(void *arg, uint64_t off, uint64_t len)
{
	auto *w = static_cast<Walk *>(arg);
	if (w->stop_after >= 0 && (int)w->extents.size() >= w->stop_after)
		return -EIO;
	w->extents.emplace_back(off, len);
	return 0;
}

struct DirtyExtents : Failback {
	Walk w;
	resync_extent_cb cb = { sizeof cb, 0, walk_size, walk_extent, &w };
	resync *r = resync_new();
	void TearDown() override
	{
		resync_free(r);
	}
};

TEST_F(DirtyExtents, ReportsSizeThenEachDirtyGranule)
{
	ASSERT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &cb), 0)
		<< resync_error(r);
	EXPECT_EQ(w.size_calls, 1);
	EXPECT_EQ(w.size, kSize);
	std::vector<std::pair<uint64_t, uint64_t>> want = {
		{ 1 * MiB, 64 * KiB },
		{ 3 * MiB, 64 * KiB },
		{ 5 * MiB, 128 * KiB },
		{ kSize - 64 * KiB, 64 * KiB },
	};
	EXPECT_EQ(w.extents, want);
	EXPECT_STREQ(resync_error(r), "");
}

TEST_F(DirtyExtents, FullContextNameAndNoSizeCallback)
{
	cb.size = nullptr;
	ASSERT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "qemu:dirty-bitmap:b0", &cb), 0)
		<< resync_error(r);
	EXPECT_EQ(w.extents.size(), 4u);
}

TEST_F(DirtyExtents, CallbackErrorStopsTheWalkAndIsReturned)
{
	w.stop_after = 2;
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &cb), -EIO);
	EXPECT_EQ(w.extents.size(), 2u);
	w = Walk();
	w.size_err = -EOVERFLOW;
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &cb), -EOVERFLOW);
	EXPECT_TRUE(w.extents.empty());
}

TEST_F(DirtyExtents, AbsentBitmapIsNotSupportedAndListsTheOffer)
{
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "nope", &cb), -ENOTSUP);
	EXPECT_EQ(std::string(resync_error(r)),
		  qemu_->uri() + ": the server does not offer qemu:dirty-bitmap:nope (it offers: "
				 "base:allocation, qemu:dirty-bitmap:b0)");
	EXPECT_EQ(w.size_calls, 0);
}

TEST_F(DirtyExtents, BadArgumentsAreRefused)
{
	EXPECT_EQ(resync_nbd_dirty_extents(nullptr, qemu_->uri().c_str(), "b0", &cb), -EINVAL);
	EXPECT_EQ(resync_nbd_dirty_extents(r, primary_.c_str(), "b0", &cb), -EINVAL);
	EXPECT_EQ(std::string(resync_error(r)), primary_ + ": not an NBD URI");
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "", &cb), -EINVAL);
	resync_extent_cb small = cb;
	small.struct_size = sizeof small - 1;
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &small), -EINVAL);
	resync_extent_cb reserved = cb;
	reserved.reserved = 1;
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &reserved), -EINVAL);
	EXPECT_EQ(w.size_calls, 0);
}

TEST_F(DirtyExtents, PendingCancelStopsItAndIsConsumed)
{
	resync_cancel(r);
	EXPECT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &cb), -ECANCELED);
	EXPECT_TRUE(w.extents.empty());
	ASSERT_EQ(resync_nbd_dirty_extents(r, qemu_->uri().c_str(), "b0", &cb), 0)
		<< resync_error(r);
	EXPECT_EQ(w.extents.size(), 4u);
}

} // namespace
