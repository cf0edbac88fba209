// SPDX-License-Identifier: MIT
// The change bitmap: in-memory runs, the uapi file format, and every way a
// file is refused.
#include <gtest/gtest.h>
#include <cstring>
#include <resync/resync.h>
#include <resync/change_bitmap.h>
#include <xxhash.h>
#include "testutil.h"

namespace {

struct BitmapFile : ::testing::Test {
	rt::TempDir tmp;
	std::string path = tmp.path("bm");

	// A valid bitmap of 10 MiB + 100 bytes at 64 KiB with two runs set.
	void save_valid()
	{
		resync_bitmap *b;
		ASSERT_EQ(resync_bitmap_new(&b, (10 << 20) + 100, 65536), 0);
		ASSERT_EQ(resync_bitmap_mark(b, 0, 1), 0);
		ASSERT_EQ(resync_bitmap_mark(b, 5 << 20, 200000), 0);
		ASSERT_EQ(resync_bitmap_mark(b, 10 << 20, 100), 0);
		ASSERT_EQ(resync_bitmap_save(b, path.c_str()), 0);
		resync_bitmap_free(b);
	}

	int load()
	{
		resync_bitmap *b = nullptr;
		int ret = resync_bitmap_load(&b, path.c_str());
		resync_bitmap_free(b);
		return ret;
	}

	// Changes header bytes and, unless told otherwise, keeps the checksum
	// valid so the field's own check is what refuses the file.
	void patch(size_t off, const void *data, size_t n)
	{
		rt::Bytes f = rt::read_file(path);
		memcpy(f.data() + off, data, n);
		rt::write_file(path, f);
	}
};

TEST_F(BitmapFile, RoundTripKeepsRunsFlagsAndIds)
{
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, 1000000, 4096), 0);
	ASSERT_EQ(resync_bitmap_mark(b, 4095, 2), 0);   // blocks 0 and 1
	ASSERT_EQ(resync_bitmap_mark(b, 999999, 1), 0); // the short last block
	uint8_t gen[16], id[16];
	for (int i = 0; i < 16; i++)
		gen[i] = (uint8_t)i, id[i] = (uint8_t)(100 + i);
	resync_bitmap_set_generation(b, gen);
	resync_bitmap_set_disk_id(b, id);
	ASSERT_EQ(resync_bitmap_set_flags(b, RESYNC_BITMAP_F_CONSISTENT), 0);
	ASSERT_EQ(resync_bitmap_save(b, path.c_str()), 0);
	resync_bitmap_free(b);

	ASSERT_EQ(resync_bitmap_load(&b, path.c_str()), 0);
	EXPECT_EQ(resync_bitmap_device_size(b), 1000000u);
	EXPECT_EQ(resync_bitmap_granularity(b), 4096u);
	EXPECT_EQ(resync_bitmap_flags(b), RESYNC_BITMAP_F_CONSISTENT);
	uint8_t g2[16], i2[16];
	resync_bitmap_get_generation(b, g2);
	resync_bitmap_get_disk_id(b, i2);
	EXPECT_EQ(memcmp(g2, gen, 16), 0);
	EXPECT_EQ(memcmp(i2, id, 16), 0);
	uint64_t off = 0, len = 0;
	ASSERT_EQ(resync_bitmap_next(b, &off, &len), 1);
	EXPECT_EQ(off, 0u);
	EXPECT_EQ(len, 8192u);
	off += len;
	ASSERT_EQ(resync_bitmap_next(b, &off, &len), 1);
	EXPECT_EQ(off, 999424u);
	EXPECT_EQ(len, 1000000u - 999424u);
	off += len;
	EXPECT_EQ(resync_bitmap_next(b, &off, &len), 0);
	EXPECT_EQ(resync_bitmap_dirty_bytes(b), 8192u + 576u);
	resync_bitmap_free(b);
	EXPECT_EQ(rt::file_size(path), RESYNC_BITMAP_HEADER_SIZE + (245 + 7) / 8);
}

TEST_F(BitmapFile, MarkPastTheEndIsRefused)
{
	resync_bitmap *b;
	ASSERT_EQ(resync_bitmap_new(&b, 8192, 4096), 0);
	EXPECT_EQ(resync_bitmap_mark(b, 4096, 4097), -ERANGE);
	EXPECT_EQ(resync_bitmap_mark(b, 8193, 0), -ERANGE);
	EXPECT_EQ(resync_bitmap_dirty_bytes(b), 0u);
	resync_bitmap_free(b);
}

TEST_F(BitmapFile, GranularityMustBeAPowerOfTwoFrom512)
{
	resync_bitmap *b = nullptr;
	EXPECT_EQ(resync_bitmap_new(&b, 1 << 20, 1000), -EINVAL);
	EXPECT_EQ(resync_bitmap_new(&b, 1 << 20, 256), -EINVAL);
	EXPECT_EQ(resync_bitmap_new(&b, 1 << 20, 0), -EINVAL);
	EXPECT_EQ(b, nullptr);
}

TEST_F(BitmapFile, BadMagicIsRefused)
{
	save_valid();
	patch(0, "NOTABMP!", 8);
	EXPECT_EQ(load(), -EBADMSG);
	EXPECT_STREQ(resync_bitmap_load_error(), "bad magic (not a resync change bitmap)");
}

TEST_F(BitmapFile, FlippedBitFailsTheChecksum)
{
	save_valid();
	rt::Bytes f = rt::read_file(path);
	f[RESYNC_BITMAP_HEADER_SIZE + 3] ^= 0x10;
	rt::write_file(path, f);
	EXPECT_EQ(load(), -EBADMSG);
	EXPECT_STREQ(resync_bitmap_load_error(), "checksum mismatch (corrupted)");
}

TEST_F(BitmapFile, TruncatedFileIsRefused)
{
	save_valid();
	rt::Bytes f = rt::read_file(path);
	f.pop_back();
	rt::write_file(path, f);
	EXPECT_EQ(load(), -ENODATA);
}

TEST_F(BitmapFile, TrailingBytesAreRefused)
{
	save_valid();
	rt::Bytes f = rt::read_file(path);
	f.push_back(0);
	rt::write_file(path, f);
	EXPECT_EQ(load(), -EFBIG);
}

TEST_F(BitmapFile, GranularityNotAPowerOfTwoIsRefused)
{
	save_valid();
	uint32_t g = 65535;
	patch(offsetof(resync_bitmap_header, granularity), &g, 4);
	EXPECT_EQ(load(), -EINVAL);
	EXPECT_STREQ(resync_bitmap_load_error(),
		     "granularity is not a power of two between 512 and 1 GiB");
}

TEST_F(BitmapFile, LengthNotMatchingDeviceSizeIsRefused)
{
	save_valid();
	uint64_t size = 100ull << 20;
	patch(offsetof(resync_bitmap_header, device_size), &size, 8);
	EXPECT_EQ(load(), -EINVAL);
	EXPECT_STREQ(resync_bitmap_load_error(),
		     "bitmap length does not match device size and granularity");
}

TEST_F(BitmapFile, UnknownVersionFlagsAndReservedAreRefused)
{
	save_valid();
	uint32_t v = 2;
	patch(offsetof(resync_bitmap_header, version), &v, 4);
	EXPECT_EQ(load(), -EPROTO);
	save_valid();
	uint64_t flags = 1ull << 40;
	patch(offsetof(resync_bitmap_header, flags), &flags, 8);
	EXPECT_EQ(load(), -EINVAL);
	save_valid();
	uint64_t one = 1;
	patch(offsetof(resync_bitmap_header, reserved) + 8, &one, 8);
	EXPECT_EQ(load(), -EINVAL);
}

// ceil(2^64 - 1 / 512) used to wrap to 0 blocks: a one-word bitmap for a
// disk of 16 EiB, and the first mark wrote past the heap buffer.
TEST(BitmapSize, MoreBlocksThanABitmapHoldsIsEOVERFLOW)
{
	resync_bitmap *b = nullptr;
	EXPECT_EQ(resync_bitmap_new(&b, UINT64_MAX, 512), -EOVERFLOW);
	EXPECT_EQ(resync_bitmap_new(&b, UINT64_MAX - 510, 512), -EOVERFLOW);
	EXPECT_EQ(resync_bitmap_new(&b, (1ull << 44) + 1, 512), -EOVERFLOW);
	EXPECT_EQ(resync_bitmap_new(&b, UINT64_MAX, 1u << 28), -EOVERFLOW);
	EXPECT_EQ(b, nullptr);
}

// The largest device at the largest granularity: 2^34 blocks.  Every byte
// count near 2^64 comes out exact (end << shift would pass 2^64).
TEST(BitmapSize, DeviceEndingNear2To64)
{
	resync_bitmap *b;
	const uint64_t g = 1ull << 30, last = (UINT64_MAX / g) * g;
	ASSERT_EQ(resync_bitmap_new(&b, UINT64_MAX, (uint32_t)g), 0);
	EXPECT_EQ(resync_bitmap_mark(b, UINT64_MAX - 10, 11), -ERANGE);
	ASSERT_EQ(resync_bitmap_mark(b, UINT64_MAX - 10, 10), 0);
	ASSERT_EQ(resync_bitmap_mark(b, 0, 1), 0);
	// Each of these scans 2^28 words: once each.
	EXPECT_EQ(resync_bitmap_dirty_bytes(b), g + UINT64_MAX - last);
	uint64_t off = g, len = 0;
	ASSERT_EQ(resync_bitmap_next(b, &off, &len), 1);
	EXPECT_EQ(off, last);
	EXPECT_EQ(len, UINT64_MAX - last);
	off = last + 1;
	EXPECT_EQ(resync_bitmap_next(b, &off, &len), 0);
	resync_bitmap_free(b);
}

TEST_F(BitmapFile, MoreBlocksThanABitmapHoldsIsRefusedOnLoad)
{
	// A header-only file that is valid (checksum included) if the block
	// count wraps to zero.
	resync_bitmap_header h{};
	memcpy(h.magic, RESYNC_BITMAP_MAGIC, 8);
	h.version = RESYNC_BITMAP_VERSION;
	h.header_size = RESYNC_BITMAP_HEADER_SIZE;
	h.device_size = UINT64_MAX;
	h.granularity = 512;
	h.bitmap_bytes = 0;
	h.checksum = XXH64(&h, sizeof h, 0);
	rt::write_file(path, rt::Bytes((uint8_t *)&h, (uint8_t *)&h + sizeof h));
	EXPECT_EQ(load(), -EOVERFLOW);
	EXPECT_STREQ(resync_bitmap_load_error(),
		     "more blocks than a bitmap may hold (2^35): device size too large for the "
		     "granularity");
}

TEST_F(BitmapFile, MissingFileIsENOENT)
{
	EXPECT_EQ(load(), -ENOENT);
}

} // namespace
