// SPDX-License-Identifier: MIT
// The tracking log format (engine/track_log.c): a round trip, the slot
// rules (highest valid sequence wins, a torn slot leaves the older one in
// charge), recovery of an open log, and every refusal: corrupted header,
// corrupted block outside the hot regions, wrong length, unknown flags.
// The engine's reader (resync_bitmap_load) sees the same bits.
#include <gtest/gtest.h>
#include <endian.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include <resync/resync.h>
#include <resync/change_bitmap.h>
#include "harness.h"

namespace {

constexpr uint64_t kSize = 32ull << 20;
constexpr uint32_t kGran = 512;        // 65536 bits: three body blocks
constexpr uint32_t kRegion = 1u << 20; // 32 regions

struct Log {
	struct rc_track t;
	Log()
	{
		EXPECT_EQ(rc_track_init(&t, kSize, kGran, kRegion), 0);
	}
	~Log()
	{
		rc_track_fini(&t);
	}
};

void hot(struct rc_track *t, uint64_t r)
{
	t->hot[r / 8] |= (uint8_t)(1u << (r % 8));
}

// Writes slot `seq` of t at its place, as the filter does.
void put_slot(const struct rc_track *t, const std::string &path, uint64_t seq, uint64_t flags)
{
	std::vector<uint8_t> buf(t->slot_size);
	rc_track_encode_slot(t, seq, flags, t->hot, buf.data());
	rt::pwrite_at(path, rc_track_slot_offset(t, seq), buf);
}

void flip(const std::string &path, uint64_t off)
{
	rt::Bytes all = rt::read_file(path);
	rt::pwrite_at(path, off, { (uint8_t)(all[off] ^ 0x5a) });
}

TEST(TrackFormat, RoundTrip)
{
	rt::TempDir d;
	Log a;
	rc_track_mark(&a.t, 4096, 8192);
	rc_track_mark(&a.t, kSize - 100, 100);
	memset(a.t.generation, 0x11, 16);
	memset(a.t.disk_id, 0x22, 16);
	ASSERT_EQ(rc_track_write_new(&a.t, d.path("l").c_str(), 0600), 0);
	EXPECT_EQ(rt::file_size(d.path("l")), 4096 + 2 * a.t.slot_size + 3 * 4096);
	struct rc_track b;
	std::string why;
	ASSERT_EQ(trk::read_log(d.path("l"), &b, &why), 0) << why;
	EXPECT_EQ(b.device_size, kSize);
	EXPECT_EQ(b.granularity, kGran);
	EXPECT_EQ(b.region_size, kRegion);
	EXPECT_EQ(b.sequence, 1u);
	EXPECT_EQ(b.flags, 0u);
	EXPECT_EQ(b.recovered_now, 0u);
	EXPECT_EQ(memcmp(b.bits, a.t.bits, b.bitmap_bytes), 0);
	EXPECT_EQ(memcmp(b.generation, a.t.generation, 16), 0);
	EXPECT_EQ(memcmp(b.disk_id, a.t.disk_id, 16), 0);
	rc_track_fini(&b);

	std::vector<bool> bits = trk::engine_bits(d.path("l"), kGran, &why);
	ASSERT_EQ(bits.size(), kSize / kGran) << why;
	for (uint64_t i = 0; i < bits.size(); i++)
		EXPECT_EQ(bits[i], (i >= 8 && i < 24) || i == bits.size() - 1) << i;
}

TEST(TrackFormat, OpenLogIsRecoveredByEveryReader)
{
	rt::TempDir d;
	Log a;
	rc_track_mark(&a.t, 0, 512);
	ASSERT_EQ(rc_track_write_new(&a.t, d.path("l").c_str(), 0600), 0);
	hot(&a.t, 3);
	hot(&a.t, 31);
	put_slot(&a.t, d.path("l"), 2, RESYNC_TRACK_F_OPEN);
	struct rc_track b;
	std::string why;
	ASSERT_EQ(trk::read_log(d.path("l"), &b, &why), 0) << why;
	EXPECT_EQ(b.recovered_now, 2u);
	EXPECT_EQ(b.sequence, 2u);
	rc_track_fini(&b);

	resync_bitmap *bm = nullptr;
	ASSERT_EQ(resync_bitmap_load(&bm, d.path("l").c_str()), 0) << resync_bitmap_load_error();
	EXPECT_EQ(resync_bitmap_flags(bm), RESYNC_BITMAP_F_CONSISTENT);
	EXPECT_EQ(resync_bitmap_dirty_bytes(bm), 512u + 2 * kRegion);
	uint64_t off = 0, len;
	ASSERT_EQ(resync_bitmap_next(bm, &off, &len), 1);
	EXPECT_EQ(off, 0u);
	EXPECT_EQ(len, 512u);
	off += len;
	ASSERT_EQ(resync_bitmap_next(bm, &off, &len), 1);
	EXPECT_EQ(off, 3u * kRegion);
	EXPECT_EQ(len, (uint64_t)kRegion);
	resync_bitmap_free(bm);
}

TEST(TrackFormat, TornSlotLeavesThePreviousOneInCharge)
{
	rt::TempDir d;
	Log a;
	ASSERT_EQ(rc_track_write_new(&a.t, d.path("l").c_str(), 0600), 0);
	hot(&a.t, 5);
	put_slot(&a.t, d.path("l"), 2, RESYNC_TRACK_F_OPEN);
	hot(&a.t, 9);
	put_slot(&a.t, d.path("l"), 3, RESYNC_TRACK_F_OPEN);
	// Slot 3 (at slot 1's place) loses its tail: slot 2 wins.
	rt::pwrite_at(d.path("l"), rc_track_slot_offset(&a.t, 3) + 64, rt::Bytes(4, 0));
	struct rc_track b;
	std::string why;
	ASSERT_EQ(trk::read_log(d.path("l"), &b, &why), 0) << why;
	EXPECT_EQ(b.sequence, 2u);
	EXPECT_TRUE(rc_track_test(b.hot, 5));
	EXPECT_FALSE(rc_track_test(b.hot, 9));
	rc_track_fini(&b);
	// Both torn: nothing to trust.
	rt::pwrite_at(d.path("l"), rc_track_slot_offset(&a.t, 2) + 8, rt::Bytes(8, 0xff));
	EXPECT_EQ(trk::read_log(d.path("l"), &b, &why), -EBADMSG);
	EXPECT_EQ(why, "no valid log slot (corrupted)");
}

TEST(TrackFormat, TornBlockOnlyWhereHot)
{
	rt::TempDir d;
	Log a;
	rc_track_mark(&a.t, 0, 4096);
	rc_track_mark(&a.t, 20u << 20, 4096); // bit 40960: block 1
	ASSERT_EQ(rc_track_write_new(&a.t, d.path("l").c_str(), 0600), 0);
	hot(&a.t, 0); // region 0: bits 0..2047, block 0
	put_slot(&a.t, d.path("l"), 2, RESYNC_TRACK_F_OPEN);
	// Block 0 torn (its tail old, its checksum stale): accepted, the hot
	// region set whole and the other bits of the block kept.
	flip(d.path("l"), rc_track_block_offset(&a.t, 0) + 16 + 4000);
	struct rc_track b;
	std::string why;
	ASSERT_EQ(trk::read_log(d.path("l"), &b, &why), 0) << why;
	for (uint64_t i = 0; i < 2048; i++)
		ASSERT_TRUE(rc_track_test(b.bits, i)) << i;
	EXPECT_TRUE(rc_track_test(b.bits, 40960));
	rc_track_fini(&b);
	// Block 1 holds no hot region: corruption, refused.
	flip(d.path("l"), rc_track_block_offset(&a.t, 1) + 100);
	EXPECT_EQ(trk::read_log(d.path("l"), &b, &why), -EBADMSG);
	EXPECT_EQ(why, "bitmap block checksum mismatch (corrupted)");
	std::string ewhy;
	EXPECT_TRUE(trk::engine_bits(d.path("l"), kGran, &ewhy).empty());
	EXPECT_EQ(ewhy, "bitmap block checksum mismatch (corrupted)");
}

TEST(TrackFormat, ClosedLogWithABadBlockIsRefused)
{
	rt::TempDir d;
	Log a;
	hot(&a.t, 0); // hot in a closed log does not excuse a bad block
	ASSERT_EQ(rc_track_write_new(&a.t, d.path("l").c_str(), 0600), 0);
	flip(d.path("l"), rc_track_block_offset(&a.t, 0) + 20);
	struct rc_track b;
	std::string why;
	EXPECT_EQ(trk::read_log(d.path("l"), &b, &why), -EBADMSG);
	EXPECT_EQ(why, "bitmap block checksum mismatch (corrupted)");
}

TEST(TrackFormat, BadHeaderLengthAndFlagsAreRefused)
{
	rt::TempDir d;
	Log a;
	ASSERT_EQ(rc_track_write_new(&a.t, d.path("l").c_str(), 0600), 0);
	rt::Bytes good = rt::read_file(d.path("l"));
	struct rc_track b;
	std::string why;

	flip(d.path("l"), 33);
	EXPECT_EQ(trk::read_log(d.path("l"), &b, &why), -EBADMSG);
	EXPECT_EQ(why, "header checksum mismatch (corrupted)");

	rt::write_file(d.path("l"), good);
	EXPECT_EQ(truncate(d.path("l").c_str(), (off_t)good.size() - 4096), 0);
	EXPECT_EQ(trk::read_log(d.path("l"), &b, &why), -ENODATA);
	EXPECT_EQ(why, "file is shorter than its header says (truncated)");

	rt::write_file(d.path("l"), good);
	put_slot(&a.t, d.path("l"), 2, 1ull << 40);
	EXPECT_EQ(trk::read_log(d.path("l"), &b, &why), -EINVAL);
	EXPECT_EQ(why, "unknown flags");

	EXPECT_EQ(rc_track_init(&b, kSize, 3000, 0), -EINVAL);
	EXPECT_EQ(std::string(b.error), "granularity is not a power of two between 512 and 1 GiB");
}

} // namespace
