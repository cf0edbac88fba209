// SPDX-License-Identifier: MIT
// errno to return value, and return value to exit status.
#include <gtest/gtest.h>
#include <errno.h>
extern "C" {
#include "errmap.h"
#include "resync/return_codes.h"
}

TEST(Errmap, ErrnoToReturnValue)
{
	EXPECT_EQ(ctl_rv_from_errno(0), RESYNC_RV_COMPLETED);
	EXPECT_EQ(ctl_rv_from_errno(-EIO), RESYNC_RV_FAILED);
	EXPECT_EQ(ctl_rv_from_errno(-ENOSPC), RESYNC_RV_FAILED);
	EXPECT_EQ(ctl_rv_from_errno(-EILSEQ), RESYNC_RV_FAILED);
	EXPECT_EQ(ctl_rv_from_errno(-EACCES), RESYNC_RV_ACCESS_DENIED);
	EXPECT_EQ(ctl_rv_from_errno(-EPERM), RESYNC_RV_ACCESS_DENIED);
	EXPECT_EQ(ctl_rv_from_errno(-EROFS), RESYNC_RV_ACCESS_DENIED);
	EXPECT_EQ(ctl_rv_from_errno(-EOPNOTSUPP), RESYNC_RV_NOT_SUPPORTED);
	EXPECT_EQ(ctl_rv_from_errno(-ETIMEDOUT), RESYNC_RV_TIMEOUT);
	EXPECT_EQ(ctl_rv_from_errno(-EINVAL), RESYNC_RV_INVALID_PARAMETER);
	EXPECT_EQ(ctl_rv_from_errno(-EBUSY), RESYNC_RV_IN_USE);
	EXPECT_EQ(ctl_rv_from_errno(-ECONNREFUSED), RESYNC_RV_NOT_AVAILABLE);
	EXPECT_EQ(ctl_rv_from_errno(-ENOMEM), RESYNC_RV_OUT_OF_MEMORY);
	EXPECT_EQ(ctl_rv_from_errno(-ENOENT), RESYNC_RV_FILE_NOT_FOUND);
}

TEST(Errmap, ExitStatus)
{
	EXPECT_EQ(ctl_exit_status(0), 0);
	EXPECT_EQ(ctl_exit_status(4096), 0);
	for (uint32_t rv = 32768; rv <= 32779; rv++)
		EXPECT_EQ(ctl_exit_status(rv), (int)(rv - 32767));
	EXPECT_EQ(ctl_exit_status(4097), 13);
	EXPECT_EQ(ctl_exit_status(5), 14);
}
