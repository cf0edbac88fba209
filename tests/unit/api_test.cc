// SPDX-License-Identifier: MIT
// The public API's own contract: validation of every setter, NULL-safe free.
#include <gtest/gtest.h>
#include <string>
#include <resync/resync.h>

TEST(Api, SettersRejectOutOfRangeValues)
{
	resync *r = resync_new();
	ASSERT_NE(r, nullptr);
	EXPECT_EQ(resync_set_source(r, ""), -EINVAL);
	EXPECT_EQ(resync_set_target(r, nullptr), -EINVAL);
	EXPECT_EQ(resync_set_mode(r, RESYNC_BITMAP, nullptr), -EINVAL);
	EXPECT_EQ(resync_set_mode(r, RESYNC_FULL, "x"), -EINVAL);
	EXPECT_EQ(resync_set_mode(r, (resync_mode)42, nullptr), -EINVAL);
	EXPECT_EQ(resync_set_flags(r, 1ull << 63), -EINVAL);
	EXPECT_EQ(resync_set_queue_depth(r, 0), -EINVAL);
	EXPECT_EQ(resync_set_queue_depth(r, 1025), -EINVAL);
	EXPECT_EQ(resync_set_request_size(r, 3000), -EINVAL);
	EXPECT_EQ(resync_set_request_size(r, 2048), -EINVAL);
	EXPECT_EQ(resync_set_request_size(r, 128u << 20), -EINVAL);
	EXPECT_EQ(resync_set_block_size(r, 65537), -EINVAL);
	EXPECT_EQ(resync_set_nbd_connections(r, 0), -EINVAL);
	EXPECT_EQ(resync_set_nbd_connections(r, 17), -EINVAL);
	EXPECT_EQ(resync_set_tls(r, "/certs", "/psk", nullptr), -EINVAL);
	EXPECT_EQ(resync_set_checkpoint(r, "", 0, 0), -EINVAL);
	EXPECT_EQ(resync_set_queue_depth(r, 1024), 0);
	EXPECT_EQ(resync_set_request_size(r, 64u << 20), 0);
	resync_free(r);
	resync_free(nullptr);
}

TEST(Api, RunWithoutEndpointsIsEINVAL)
{
	resync *r = resync_new();
	EXPECT_EQ(resync_run(r), -EINVAL);
	resync_free(r);
}

TEST(Api, ErrorIsEmptyBeforeAnyFailure)
{
	resync *r = resync_new();
	EXPECT_STREQ(resync_error(r), "");
	EXPECT_EQ(resync_error_offset(r), UINT64_MAX);
	/* The library built from VERSION is the one the header names. */
	char want[64];
	snprintf(want, sizeof want, "resync %d.%d.", RESYNC_VERSION_MAJOR, RESYNC_VERSION_MINOR);
	EXPECT_EQ(std::string(resync_version()).rfind(want, 0), 0u) << resync_version();
	resync_free(r);
}
